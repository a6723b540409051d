// Where an export sync round is in its scopes, and which of the fleet's member rows it syncs. A round
// takes the MANAGED_SCOPES setting first (an offset into it), then the fleet's member rows a page at
// a time (the fleet table's continuation token): the cursor rides in the orchestration's input
// through continueAsNew, so it is small and JSON-safe. Pure: no I/O.

/** The next page of a round: an offset into MANAGED_SCOPES, or a place in the fleet's member rows
 * (`token` absent: their first page). */
export type SyncCursor = { part: 'managed'; offset: number } | { part: 'fleet'; token?: string };

/** What to read at `cursor`: a slice of the managed scopes (and the cursor after it), or the fleet's
 * member rows from `token` on. Past the managed scopes comes the fleet, when there is one. */
export type ScopesRead =
  | { part: 'managed'; start: number; end: number; next?: SyncCursor }
  | { part: 'fleet'; token?: string }
  | { part: 'done' };

export function scopesRead(
  managedCount: number,
  cursor: SyncCursor | undefined,
  pageSize: number,
  withFleet: boolean,
): ScopesRead {
  const at = cursor ?? { part: 'managed', offset: 0 };
  if (at.part === 'fleet') {
    if (!withFleet) return { part: 'done' };
    return at.token === undefined ? { part: 'fleet' } : { part: 'fleet', token: at.token };
  }
  const start = Math.max(0, at.offset);
  if (start >= managedCount) return withFleet ? { part: 'fleet' } : { part: 'done' };
  const end = Math.min(managedCount, start + Math.max(1, pageSize));
  const next: SyncCursor | undefined =
    end < managedCount ? { part: 'managed', offset: end } : withFleet ? { part: 'fleet' } : undefined;
  return { part: 'managed', start, end, ...(next ? { next } : {}) };
}

/** The cursor a round's input carries; `offset` alone is how rounds started before the fleet part
 * said it, so one running across a deployment goes on where it was. */
export function cursorOf(input: { cursor?: SyncCursor; offset?: number }): SyncCursor | undefined {
  if (input.cursor) return input.cursor;
  return input.offset !== undefined ? { part: 'managed', offset: input.offset } : undefined;
}

/** Whether a member row still belongs to its assignment: the assignment's last finished round
 * (`lastRoundTick`, from its summary) saw it, or a later round did. A row older than that round is a
 * customer that left (the fleet reports it and no longer manages its exports). Ticks are ISO times;
 * one that cannot be read counts as current, so nothing is dropped on a guess. */
export function isCurrentMember(seenIn: string, lastRoundTick: string | undefined): boolean {
  if (lastRoundTick === undefined || seenIn === lastRoundTick) return true;
  const seen = Date.parse(seenIn);
  const last = Date.parse(lastRoundTick);
  if (Number.isNaN(seen) || Number.isNaN(last)) return true;
  return seen >= last;
}
