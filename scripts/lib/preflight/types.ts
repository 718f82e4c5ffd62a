/** A server the preflight started, for the run's length. */
export interface StartedServer {
  /** Its log file. */
  log: string;
  /** Asks it to stop; synchronous, so an exit handler can call it. */
  stop: () => void;
  /** Settles once it is gone, where that can be known. */
  stopped: Promise<void>;
}

/** What the preflight tells the user instead of a stack trace: its message is one sentence saying what to do. */
export class PreflightError extends Error {
  override name = 'PreflightError';
}
