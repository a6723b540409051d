// Shapes the fleet round (workflows/fleetRound.ts) and the fleet's services share: what a round
// counts per assignment and writes as the assignment's summary, so a status read is one row per
// assignment, never one per export. Pure types and one pure merge.

/** An export whose last outcome needs a person (failed, forbidden, throttled, not-owned). */
export interface AttentionItem {
  scope: string;
  exportName: string;
  outcome: string;
  error?: string;
}

/** An assignment's export outcomes over one round (as recorded: one per export it reached). */
export interface AssignmentTally {
  scopes: number;
  exports: number;
  byOutcome: Record<string, number>;
  /** The first MAX_ATTENTION exports that need a person. */
  attention: AttentionItem[];
}

/** The row status reads: the tally of the last complete round that reached the assignment. */
export interface AssignmentSummary extends AssignmentTally {
  assignmentId: string;
  /** The round (tick) that wrote it. */
  tick: string;
  at: string;
  /** Scopes reached before and not in that round (customers that left). */
  departed: number;
}

export const MAX_ATTENTION = 50;

export const ATTENTION_OUTCOMES: readonly string[] = ['failed', 'forbidden', 'throttled', 'not-owned'];

export function emptyTally(): AssignmentTally {
  return { scopes: 0, exports: 0, byOutcome: {}, attention: [] };
}

/** Adds one scope's recorded outcomes to a tally (in place). */
export function addToTally(
  tally: AssignmentTally,
  recorded: Record<string, number>,
  attention: readonly AttentionItem[],
): void {
  tally.scopes += 1;
  for (const [outcome, n] of Object.entries(recorded)) {
    tally.byOutcome[outcome] = (tally.byOutcome[outcome] ?? 0) + n;
    tally.exports += n;
  }
  for (const a of attention) if (tally.attention.length < MAX_ATTENTION) tally.attention.push(a);
}
