/**
 * Server-side entry of the connect button: where the browser module lives on disk (so an app can serve it
 * as-is) and its types. Browsers load `connect-button.js` itself, never this file.
 */

/** The outcome of one connect flow (`openLeverConnect`, and the element's events). */
export type LeverConnectResult =
  | { status: 'success'; connectionId: string }
  | { status: 'error'; error: string }
  | { status: 'cancel' };

export interface OpenLeverConnectOptions {
  /** Popup width in CSS pixels. Default 500. */
  width?: number;
  /** Popup height in CSS pixels. Default 700. */
  height?: number;
  /** How often `GET <session>/result` is polled while the popup is open, in ms. Default 1000. */
  pollIntervalMs?: number;
  /** How often `popup.closed` is checked, in ms. Default 500. */
  closedCheckIntervalMs?: number;
  /**
   * An error this session already reported in an earlier attempt. The server keeps a session's last error
   * until it succeeds, so polling ignores this code (a postMessage from the popup is still believed). The
   * button passes it when retrying with the same session.
   */
  staleError?: string;
  /** Aborting closes the popup and settles the flow as `cancel`. */
  signal?: AbortSignal;
}

/**
 * Absolute file path of `connect-button.js` (src/ when run from source, dist/ when built: tsc copies it).
 * Serve it with `content-type: text/javascript`.
 */
export const CONNECT_BUTTON_SCRIPT: string = decodeURIComponent(new URL('./connect-button.js', import.meta.url).pathname);
