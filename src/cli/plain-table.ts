// cli-table3 colours head and borders by default (ANSI grey and red), even when stdout is a pipe or
// a file, where the escapes land as text. xlane's tables carry no meaning in colour: plain always,
// as `lanes list` and `status` were first.
import Table from 'cli-table3';

export function plainTable(options: Table.TableConstructorOptions = {}): Table.Table {
  return new Table({ ...options, style: { ...options.style, head: [], border: [] } });
}
