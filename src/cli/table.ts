// Tables in the terminal.
import Table from 'cli-table3';

export function printTable(head: string[], rows: (string | number)[][], caption?: string): void {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map(String));
  if (caption) console.log(caption);
  console.log(t.toString());
}
