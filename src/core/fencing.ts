/** The cutover's fence: the source refuses application writes until it is lifted (DESIGN §1.3). */
export interface Fencing {
  /**
   * Makes the source refuse application writes (read-only), ending the sessions that would write,
   * then writes `marker` as the last transaction the stream will carry.
   */
  fence(marker: string, timeoutSeconds: number): Promise<void>;
  /** Lifts the fence again; resolves false when none was up (nothing to lift: the source was writable). */
  unfence(): Promise<boolean>;
  /** The source refuses application writes now: a fence (ferry's, or one left behind) is up. */
  fenced(): Promise<boolean>;
}
