/** A caller stopped waiting for a shared run that took longer than its bound. */
export class FlightTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "FlightTimeout";
  }
}

/**
 * One run of a task at a time, shared by every caller that arrives while it runs (one JWKS fetch
 * however many requests need it). Each caller waits at most `waitMs`, with a timer of its own: on
 * Workers, work begun by one request dies with that request (a client that disconnects cancels it),
 * leaving a promise that never settles, so no request may wait on another's work without a bound.
 * A caller that gives up drops the flight, so the next caller starts afresh.
 */
export class SingleFlight<T> {
  #flight?: Promise<T>;

  get running(): boolean {
    return this.#flight !== undefined;
  }

  run(task: () => Promise<T>, waitMs: number): Promise<T> {
    let flight = this.#flight;
    if (!flight) {
      const started = task();
      const clear = () => {
        if (this.#flight === started) this.#flight = undefined;
      };
      started.then(clear, clear);
      this.#flight = flight = started;
    }
    const shared = flight;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#flight === shared) this.#flight = undefined;
        reject(new FlightTimeout(waitMs));
      }, waitMs);
      shared.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}
