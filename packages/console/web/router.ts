import { useEffect, useState } from 'preact/hooks';

export const BASE = '/console';

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
window.addEventListener('popstate', notify);

let navigated = false;
/** Whether the page changed in the browser since it loaded (then a new page's heading takes the focus). */
export const hasNavigated = () => navigated;
window.addEventListener('popstate', () => (navigated = true));

/** Goes to a console path (`/connections?status=active`), as a link would. */
export function navigate(path: string, options: { replace?: boolean } = {}) {
  if (!options.replace) navigated = true;
  const url = path.startsWith(BASE) ? path : `${BASE}${path === '/' ? '' : path}`;
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

export interface Location {
  /** The path below /console, always starting with `/` (`/connections/…`). */
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const rest = location.pathname.slice(BASE.length) || '/';
  return { path: rest.replace(/\/+$/, '') || '/', query: new URLSearchParams(location.search) };
}

/** The current location, re-rendering the caller when it changes. */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const listener = () => setLoc(current());
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return loc;
}

/** Router-aware link click: plain clicks stay in the page; modified clicks (new tab) are the browser's. */
export function onLinkClick(event: MouseEvent) {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
