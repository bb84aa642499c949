/** A minimal typed event emitter that runs in browsers and Node alike. */
export class Emitter<Events extends Record<string, unknown>> {
  private listeners: { [K in keyof Events]?: Set<(ev: Events[K]) => void> } = {};

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (ev: Events[K]) => void): () => void {
    (this.listeners[event] ??= new Set()).add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof Events>(event: K, listener: (ev: Events[K]) => void): () => void {
    const off = this.on(event, (ev) => {
      off();
      listener(ev);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: (ev: Events[K]) => void): void {
    this.listeners[event]?.delete(listener);
  }

  /** Calls every listener; a throwing listener is logged and does not stop the others. */
  protected emit<K extends keyof Events>(event: K, ev: Events[K]): void {
    for (const listener of [...(this.listeners[event] ?? [])]) {
      try {
        listener(ev);
      } catch (err) {
        console.error('streamer-client: event listener threw', err);
      }
    }
  }
}
