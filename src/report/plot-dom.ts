// Plot draws into a DOM; on Node that DOM is linkedom's. Figures are plain <svg> (no Plot legends,
// titles or captions: those wrap the svg in HTML, which a standalone .svg file cannot hold), so
// legends and labels are drawn as marks inside the svg.
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { XlaneError } from '../errors.js';
import { svgToXml, type XmlNode } from './svg-xml.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The DOM calls this module makes (the project compiles without the DOM lib). */
export interface DomElement extends XmlNode {
  localName: string;
  firstChild: DomElement | null;
  textContent: string | null;
  insertBefore(node: DomElement, before: DomElement | null): unknown;
  appendChild(node: DomElement): unknown;
  removeChild(node: DomElement): unknown;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  getAttribute(name: string): string | null;
}

interface DomDocument {
  createElementNS(ns: string, tag: string): DomElement;
}

export interface PlotDocument {
  document: DomDocument;
}

export function createPlotDocument(): PlotDocument {
  const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');
  return { document: document as unknown as DomDocument };
}

export function createSvgElement(doc: PlotDocument, tag: string): DomElement {
  return doc.document.createElementNS(SVG_NS, tag);
}

/** Plot's output element, always an <svg>; the caller decides how it is serialised. */
export function plotElement(doc: PlotDocument, options: Plot.PlotOptions): DomElement {
  const el = Plot.plot({
    ...options,
    document: doc.document as Plot.PlotOptions['document'],
  }) as unknown as DomElement;
  if (el.localName !== 'svg')
    throw new XlaneError('XL_ERR_INTERNAL', `a report plot rendered as <${el.localName}>, not <svg>`);
  return el;
}

/** Gives the svg an accessible name (and a standalone file a title) as its first child. */
export function addTitle(doc: PlotDocument, svg: DomElement, title: string): void {
  const t = createSvgElement(doc, 'title');
  t.textContent = title;
  svg.insertBefore(t, svg.firstChild);
}

export function plotSvg(
  doc: PlotDocument,
  options: Plot.PlotOptions,
  idPrefix: string,
  title: string,
): string {
  const el = plotElement(doc, options);
  addTitle(doc, el, title);
  return svgToXml(el, idPrefix);
}

/** Fixed colours per mode, the same in every figure and table of a report. */
export const MODE_COLORS: Record<string, string> = {
  idle: '#6b7280',
  express: '#15803d',
  fifo: '#dc2626',
};

export function modeColor(mode: string): string {
  return MODE_COLORS[mode] ?? '#2563eb';
}
