// Map an issue path (["links", 2, "b"]) back to the line and column of the YAML node it came from.
// A path that leaves the document (a missing key) resolves to its nearest existing ancestor,
// which is where the key should be added.
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { PathSegment, Position } from './issues.js';

function start(node: { range?: [number, number, number] | null } | null | undefined): number | undefined {
  return node?.range?.[0];
}

export function locateInDocument(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PathSegment[],
  atKey = false,
): Position {
  let node: Node | null = doc.contents;
  let offset = start(node) ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) break;
      const keyStart = start(pair.key as Node);
      const value = pair.value as Node | null;
      if (last && atKey && keyStart !== undefined) {
        offset = keyStart;
        break;
      }
      // `key:` with nothing after it has no value node: point at the key.
      offset = start(value) ?? keyStart ?? offset;
      node = value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      offset = start(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return lineCounter.linePos(offset);
}
