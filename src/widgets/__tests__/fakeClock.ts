/**
 * Jest's fake timers (they fake `performance.now()` too), read as times from 10,000 ms: a timer
 * fires at its own time as the clock passes it. Make one after `jest.useFakeTimers()`.
 */
export class Clock {
  private readonly _origin = performance.now() - 10_000;
  get time(): number {
    return performance.now() - this._origin;
  }
  /** Timers waiting to fire. */
  get waiting(): number {
    return jest.getTimerCount();
  }
  /** Let the fake time run to `to` (ms on this clock), firing the timers due on the way. */
  advance(to: number): void {
    jest.advanceTimersByTime(to - this.time);
  }
}
