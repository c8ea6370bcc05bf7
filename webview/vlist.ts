// A virtualised list: rows have one fixed height and only those in view (plus a margin) exist in the DOM, so
// 10,000 rows scroll as smoothly as 10.
export class VirtualList<T> {
  private items: T[] = [];
  private readonly spacer = document.createElement('div');
  private readonly rows = document.createElement('div');
  private frame = 0;

  constructor(
    private readonly host: HTMLElement,
    private readonly rowHeight: number,
    private readonly render: (item: T, index: number) => HTMLElement,
  ) {
    host.classList.add('vlist');
    this.spacer.className = 'vlist-spacer';
    this.rows.className = 'vlist-rows';
    this.spacer.append(this.rows);
    host.replaceChildren(this.spacer);
    host.addEventListener('scroll', () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(host);
  }

  setItems(items: T[]) {
    this.items = items;
    this.spacer.style.height = `${items.length * this.rowHeight}px`;
    this.draw();
  }

  /** Redraws the visible rows (after an item changed in place). */
  refresh() {
    this.draw();
  }

  scrollTo(index: number) {
    const top = index * this.rowHeight;
    if (top < this.host.scrollTop || top + this.rowHeight > this.host.scrollTop + this.host.clientHeight)
      this.host.scrollTop = Math.max(0, top - this.host.clientHeight / 2);
    this.draw();
  }

  /** How many row elements exist now (for the 10,000-row check). */
  get rendered(): number {
    return this.rows.childElementCount;
  }

  private schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.draw()));
  }

  private draw() {
    const margin = 10;
    const first = Math.max(0, Math.floor(this.host.scrollTop / this.rowHeight) - margin);
    const count = Math.ceil((this.host.clientHeight || 600) / this.rowHeight) + 2 * margin;
    const last = Math.min(this.items.length, first + count);
    this.rows.style.transform = `translateY(${first * this.rowHeight}px)`;
    const out: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const el = this.render(this.items[i], i);
      el.style.height = `${this.rowHeight}px`;
      out.push(el);
    }
    this.rows.replaceChildren(...out);
  }
}
