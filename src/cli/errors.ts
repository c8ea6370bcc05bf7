// How `star` tells a person that something failed: once, on stderr, as the message alone.

/** Prints an error as `star: message`; with STAR_DEBUG=1 the stack (which repeats the message) instead. */
export function reportError(e: unknown): void {
  const debug = process.env.STAR_DEBUG === '1';
  if (e instanceof Error) console.error(debug && e.stack ? e.stack : `star: ${e.message}`);
  else console.error(`star: ${String(e)}`);
}
