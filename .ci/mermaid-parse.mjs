// Parses the Mermaid diagram read from stdin with Mermaid's own parser (over jsdom, no
// browser): prints `ok <diagram type>`, or the parse error and exits 1.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });
try {
  const parsed = await mermaid.parse(readFileSync(0, 'utf8'));
  console.log('ok', parsed.diagramType);
} catch (e) {
  console.error('invalid:', e.message ?? e);
  process.exit(1);
}
