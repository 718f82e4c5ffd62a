/**
 * Polls `url` until it answers 2xx, `shouldGiveUp()` turns true, or `timeoutMs` passes. Each request is
 * bounded too, so a server that accepts connections but never answers cannot stall the loop.
 */
export async function waitForUrl(
  url: string,
  { timeoutMs, intervalMs = 250, shouldGiveUp = () => false }: { timeoutMs: number; intervalMs?: number; shouldGiveUp?: () => boolean },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !shouldGiveUp()) {
    const response = await fetch(url, { signal: AbortSignal.timeout(Math.min(2_000, timeoutMs)) }).catch(() => undefined);
    await response?.body?.cancel();
    if (response?.ok) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return false;
}
