import { cursorOf, isCurrentMember, scopesRead, type SyncCursor } from '../../src/domain/syncCursor';

describe('export sync cursor', () => {
  it('pages through the managed scopes, then hands over to the fleet', () => {
    expect(scopesRead(5, undefined, 2, true)).toEqual({
      part: 'managed',
      start: 0,
      end: 2,
      next: { part: 'managed', offset: 2 },
    });
    expect(scopesRead(5, { part: 'managed', offset: 2 }, 2, true)).toMatchObject({ start: 2, end: 4 });
    // The last managed page points at the fleet's first page.
    expect(scopesRead(5, { part: 'managed', offset: 4 }, 2, true)).toEqual({
      part: 'managed',
      start: 4,
      end: 5,
      next: { part: 'fleet' },
    });
    expect(scopesRead(5, { part: 'fleet', token: 'abc' }, 2, true)).toEqual({ part: 'fleet', token: 'abc' });
  });

  it('goes straight to the fleet without managed scopes, and ends after them without a fleet', () => {
    expect(scopesRead(0, undefined, 200, true)).toEqual({ part: 'fleet' });
    expect(scopesRead(0, undefined, 200, false)).toEqual({ part: 'done' });
    expect(scopesRead(3, undefined, 200, false)).toEqual({ part: 'managed', start: 0, end: 3 });
    expect(scopesRead(3, { part: 'fleet' }, 200, false)).toEqual({ part: 'done' });
    // An offset past the end (the setting shrank between generations) does not repeat scopes.
    expect(scopesRead(3, { part: 'managed', offset: 9 }, 200, true)).toEqual({ part: 'fleet' });
  });

  it('reads the offset of rounds started before the fleet part, and survives JSON', () => {
    expect(cursorOf({ offset: 400 })).toEqual({ part: 'managed', offset: 400 });
    expect(cursorOf({})).toBeUndefined();
    const cursor: SyncCursor = { part: 'fleet', token: 'eyJuZXh0UGFydGl0aW9uS2V5Ijoi' };
    expect(cursorOf(JSON.parse(JSON.stringify({ cursor, offset: 3 })) as { cursor: SyncCursor })).toEqual(
      cursor,
    );
  });

  it("counts a member its assignment's last finished round (or a later one) saw", () => {
    const last = '2026-12-04T06:00:00.000Z';
    expect(isCurrentMember(last, last)).toBe(true);
    expect(isCurrentMember('2026-12-05T06:00:00.000Z', last)).toBe(true); // a round in progress
    expect(isCurrentMember('2026-12-03T06:00:00.000Z', last)).toBe(false); // left the account
    expect(isCurrentMember('2026-12-03T06:00:00.000Z', undefined)).toBe(true); // no round finished
    expect(isCurrentMember('not a time', last)).toBe(true);
  });
});
