/**
 * ferry's heartbeat in the source log, and the source's clock it is measured on. Apart from Fencing,
 * though both write into the source: every streaming pipeline beats all the time, and only a cutover fences.
 */
export interface Heartbeat {
  /**
   * Writes ferry's heartbeat into the source log as a transaction of its own, carrying `marker` when
   * given (the stream hands it on as Transaction.marker).
   */
  beat(marker?: string): Promise<void>;
  /** The source's clock now, in one short round trip (lag is measured on it). */
  clock(): Promise<Date>;
}
