/**
 * Server-side entry of the connect button: where the browser module lives on disk (so an app can serve it
 * as-is) and its types. Browsers load `connect-button.js` itself, never this file.
 */
export type { LeverConnectResult, OpenLeverConnectOptions } from './connect-button.js';

/**
 * Absolute file path of `connect-button.js` (src/ when run from source, dist/ when built: tsc copies it).
 * Serve it with `content-type: text/javascript`.
 */
export const CONNECT_BUTTON_SCRIPT: string = decodeURIComponent(new URL('./connect-button.js', import.meta.url).pathname);
