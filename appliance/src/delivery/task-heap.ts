// Delivery room: the engine's timetable, a min-heap of (entry, leg) tasks by due time. A task carries
// the leg's token at scheduling time; the engine drops a popped task whose token has moved on.

export interface Task {
  readonly id: string;
  readonly leg: number;
  readonly due: number;
  readonly token: number;
}

/** Min-heap of tasks by due time. */
export class TaskHeap {
  private readonly items: Task[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Task | undefined {
    return this.items[0];
  }
  push(t: Task): void {
    const a = this.items;
    a.push(t);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Task).due <= t.due) break;
      a[i] = a[p] as Task;
      i = p;
    }
    a[i] = t;
  }
  pop(): Task | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && (a[l] as Task).due < (m === i ? last.due : (a[m] as Task).due)) m = l;
        if (r < a.length && (a[r] as Task).due < (m === i ? last.due : (a[m] as Task).due)) m = r;
        if (m === i) break;
        a[i] = a[m] as Task;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}
