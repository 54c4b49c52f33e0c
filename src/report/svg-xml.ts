// Serialises the DOM that Plot builds (in linkedom) as XML, so one string is both a valid standalone
// .svg file and valid inline SVG in HTML. linkedom's outerHTML is HTML: it leaves `<` unescaped in
// attributes and omits xmlns, which an XML parser (a browser opening the .svg file) rejects.
// Element ids get a per-figure prefix: Plot numbers its clip paths per process, and several figures
// inlined into one page must not share an id.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The subset of the DOM this needs; linkedom's nodes have it. */
export interface XmlNode {
  nodeType: number;
  nodeValue: string | null;
  localName?: string;
  attributes?: ArrayLike<{ name: string; value: string }>;
  childNodes: ArrayLike<XmlNode>;
}

const ELEMENT = 1;
const TEXT = 3;

function escText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escAttr(s: string): string {
  return escText(s).replace(/"/g, '&quot;');
}

function prefixRefs(value: string, prefix: string): string {
  return value.replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`);
}

function attrText(name: string, value: string, prefix: string): string {
  let v = value;
  if (name === 'id') v = prefix + value;
  else if ((name === 'href' || name === 'xlink:href') && value.startsWith('#'))
    v = `#${prefix}${value.slice(1)}`;
  else if (value.includes('url(#')) v = prefixRefs(value, prefix);
  return ` ${name}="${escAttr(v)}"`;
}

function write(node: XmlNode, prefix: string, root: boolean, out: string[]): void {
  if (node.nodeType === TEXT) {
    out.push(escText(node.nodeValue ?? ''));
    return;
  }
  if (node.nodeType !== ELEMENT || !node.localName) return; // comments and the like carry nothing
  const tag = node.localName;
  out.push(`<${tag}`);
  const attrs = Array.from(node.attributes ?? []);
  if (root && !attrs.some((a) => a.name === 'xmlns')) out.push(` xmlns="${SVG_NS}"`);
  for (const a of attrs) out.push(attrText(a.name, a.value, prefix));
  const children = Array.from(node.childNodes);
  if (children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const c of children) write(c, prefix, false, out);
  out.push(`</${tag}>`);
}

/** `node` (an <svg> element) as XML text with xmlns on the root and every id prefixed. */
export function svgToXml(node: XmlNode, idPrefix: string): string {
  const out: string[] = [];
  write(node, idPrefix, true, out);
  return out.join('');
}
