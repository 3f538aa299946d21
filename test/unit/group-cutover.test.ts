import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { cutoverRequestSchema } from '../../src/admin/cutover.js';
import { GroupCutover, type GroupCutoverView, UnknownPipelineError } from '../../src/admin/group-cutover.js';
import { CUTOVER_REQUEST, cutoverOf, ended } from '../helpers/cutover.js';

type Member = ReturnType<typeof cutoverOf>;
const REQUEST = { ...CUTOVER_REQUEST, verify: 'counts' as const, pipelines: ['a', 'b', 'c'] };

/** Three pipelines a, b, c over in-memory sources and targets; `b` as given, a and c answering at once. */
function groupOf(b: Parameters<typeof cutoverOf>[0] = {}) {
  const members: Record<'a' | 'b' | 'c', Member> = { a: cutoverOf(), b: cutoverOf(b), c: cutoverOf() };
  const group = new GroupCutover(new Map(Object.entries(members).map(([name, m]) => [name, m.cutover])));
  return { members, group };
}

async function groupEnded(group: GroupCutover): Promise<GroupCutoverView> {
  while (group.active) await sleep(5);
  return group.view()!;
}

/** Three members a, b, c each as `o` says, cut over as a group with timeoutSeconds 1, run past that deadline on fake timers. */
async function pastTheDeadline(o: Parameters<typeof cutoverOf>[0]) {
  const members = { a: cutoverOf(o), b: cutoverOf(o), c: cutoverOf(o) };
  const group = new GroupCutover(new Map(Object.entries(members).map(([name, m]) => [name, m.cutover])));
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  try {
    group.start({ ...REQUEST, timeoutSeconds: 1 });
    await vi.advanceTimersByTimeAsync(1000);
  } finally {
    vi.useRealTimers();
  }
  return { members, view: await groupEnded(group) };
}

describe('a grouped cutover', () => {
  it('completes every member, each through its own states', async () => {
    const { members, group } = groupOf({ counted: sleep(30) });
    expect(group.start(REQUEST)).toMatchObject({ state: 'preflight', pipelines: { a: { state: 'preflight' }, b: {}, c: {} } });
    const view = await groupEnded(group);
    expect(view).toMatchObject({ state: 'completed', pipelines: { a: { state: 'completed' }, b: { state: 'completed' }, c: { state: 'completed' } } });
    expect(view.reason).toBeUndefined();
    for (const m of Object.values(members)) expect(m.calls).toEqual(['fence', 'stopped', 'recorded']);
    expect(view.pipelines.a!.history.map((h) => h.state)).toEqual(['preflight', 'fencing', 'draining', 'verifying', 'finalizing', 'completed']);
    expect(view.pipelines.a!.request).not.toHaveProperty('pipelines');
  });

  it("fails every member when one member's verify finds differences: none finalized, each lifts its own fence, no stream stops", async () => {
    const { members, group } = groupOf({ targetRows: 9, counted: sleep(50) });
    group.start(REQUEST);
    const view = await groupEnded(group);
    const why = /^the grouped cutover failed: pipeline b: verify \(counts\) found differences in shop\.orders/;
    expect(view).toMatchObject({ state: 'failed', reason: expect.stringMatching(why) });
    for (const name of ['a', 'b', 'c'] as const) {
      expect(view.pipelines[name]).toMatchObject({ state: 'failed', reason: expect.stringMatching(why) });
      expect(view.pipelines[name]!.reason).toMatch(/; the source is writable again$/);
      // a and c had verified: without the barriers they would have moved their sequences and stopped their streams meanwhile.
      expect(view.pipelines[name]!.history.map((h) => h.state)).toEqual(['preflight', 'fencing', 'draining', 'verifying', 'failed']);
      expect(members[name].calls).toEqual(['fence', 'unfence', 'unfence']);
    }
  });

  it('stops no stream when a member fails creating its deferred constraints (the work before the last barrier)', async () => {
    const { members, group } = groupOf({
      constraints: async () => {
        await sleep(50);
        throw new Error('foreign key shop_orders_fk: rows violate it');
      },
    });
    group.start(REQUEST);
    const view = await groupEnded(group);
    expect(view).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^the grouped cutover failed: pipeline b: foreign key shop_orders_fk: rows violate it$/),
    });
    for (const m of Object.values(members)) expect(m.calls).toEqual(['fence', 'unfence', 'unfence']);
    expect(Object.values(view.pipelines).map((v) => v.state)).toEqual(['failed', 'failed', 'failed']);
  });

  it('aborts every member, unfencing each, on abort(); the group view says why', async () => {
    let count = () => {};
    const { members, group } = groupOf({ counted: new Promise<void>((resolve) => (count = resolve)) });
    group.start(REQUEST);
    while (members.a.cutover.view()!.state !== 'finalizing' && members.a.cutover.view()!.state !== 'verifying') await sleep(5);
    const view = await group.abort();
    count();
    expect(view).toMatchObject({ state: 'failed', reason: 'aborted through POST /cutover/abort' });
    for (const name of ['a', 'b', 'c'] as const) {
      expect(view.pipelines[name]).toMatchObject({ state: 'aborted', reason: 'aborted through POST /cutover/abort; the source is writable again' });
      expect(members[name].calls).toEqual(['fence', 'unfence', 'unfence']);
    }
    await expect(group.abort()).rejects.toThrow(/has ended/);
  });

  it("fails the others when one member's own cutover is aborted (POST /pipelines/b/cutover/abort)", async () => {
    const { members, group } = groupOf({ counted: new Promise<void>(() => {}) });
    group.start(REQUEST);
    while (members.b.cutover.view()!.state !== 'verifying') await sleep(5);
    await members.b.cutover.abort();
    const view = await groupEnded(group);
    expect(view.reason).toBe('the grouped cutover failed: pipeline b: aborted through POST /cutover/abort');
    expect(view.pipelines.b!.state).toBe('aborted');
    expect([view.pipelines.a!.state, view.pipelines.c!.state]).toEqual(['failed', 'failed']);
    for (const m of Object.values(members)) expect(m.calls).toEqual(['fence', 'unfence', 'unfence']);
  });

  it('fails every member at the one deadline, naming the member the others waited for', async () => {
    const { members, group } = groupOf({ counted: new Promise<void>(() => {}) });
    const started = Date.now();
    group.start({ ...REQUEST, timeoutSeconds: 1 });
    const view = await groupEnded(group);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(view).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^the grouped cutover failed: pipeline b.* within timeoutSeconds \(1 s\)/) });
    for (const m of Object.values(members)) expect(m.calls).toEqual(['fence', 'unfence', 'unfence']);
  });

  it('reports a member failing after every member passed the last barrier alone: its source stays fenced, the others complete', async () => {
    const { members, group } = groupOf({
      recorded: async () => {
        throw new Error('the checkpoint table is gone');
      },
    });
    group.start(REQUEST);
    const view = await groupEnded(group);
    expect(view).toMatchObject({ state: 'failed', pipelines: { a: { state: 'completed' }, b: { state: 'failed' }, c: { state: 'completed' } } });
    expect(view.reason).toMatch(/^pipeline b: the checkpoint table is gone; the stream stopped, so the source STAYS FENCED/);
    expect(members.b.calls).toEqual(['fence', 'stopped']);
  });

  it('is refused, starting nothing, when a member has completed a cutover, runs one, is not streaming, or is not a pipeline of the process', async () => {
    const { members, group } = groupOf();
    members.b.cutover.start(CUTOVER_REQUEST);
    expect(() => group.start(REQUEST)).toThrow(/^pipeline b: a cutover \(.+\) is already preflight$/);
    await ended(members.b.cutover);
    expect(() => group.start(REQUEST)).toThrow(/^pipeline b: cutover .+ has completed: the pipeline is cut over for good/);
    expect(() => group.start({ ...REQUEST, pipelines: ['a', 'x'] })).toThrow(UnknownPipelineError);
    expect(() => group.start({ ...REQUEST, pipelines: ['a', 'x'] })).toThrow(/^no pipeline x in this process$/);
    members.c.events.emit('phase', { phase: 'snapshot' });
    expect(() => group.start({ ...REQUEST, pipelines: ['a', 'c'] })).toThrow(/^pipeline c: the pipeline is snapshot, not streaming$/);
    expect(group.view()).toBeNull();
    expect([members.a.calls, members.c.calls]).toEqual([[], []]);
  });

  it('at the deadline, names the members still getting ready to stop their streams when every member has verified and none waits yet', async () => {
    const stuck = { constraints: () => new Promise<void>(() => {}) };
    const { members, view } = await pastTheDeadline(stuck);
    expect(view.reason).toMatch(/^the grouped cutover failed: pipelines a, b, c had not got ready to stop the stream .* within timeoutSeconds \(1 s\)/);
    for (const m of Object.values(members)) expect(m.calls).toEqual(['fence', 'unfence', 'unfence']);
  });

  it('does not pass the last barrier without time left to stop the streams and record the cutover: all fail, no stream stops', async () => {
    // Ready to stop their streams 0.9 s into a 1 s timeout: past the barrier, the 0.1 s left would time the stops out with every source fenced.
    const late = { constraints: () => sleep(900).then(() => {}) };
    const { members, view } = await pastTheDeadline(late);
    expect(view.reason).toMatch(/within timeoutSeconds \(1 s\) less the 0\.25 s kept for stopping the streams and recording the cutover/);
    for (const m of Object.values(members)) expect(m.calls).toEqual(['fence', 'unfence', 'unfence']);
  });

  it('lifts no fence it did not put up: the source of a pipeline on the same server, cut over before, stays fenced when a grouped cutover fails', async () => {
    // MariaDB's read_only is server-wide: x, a and c read one server, b another.
    const server = { readOnly: false };
    const x = cutoverOf({ server });
    x.cutover.start(CUTOVER_REQUEST);
    expect(await ended(x.cutover)).toMatchObject({ state: 'completed' });
    expect(x.calls).toEqual(['fence', 'stopped', 'recorded']);
    const members = { a: cutoverOf({ server }), b: cutoverOf({ targetRows: 9 }), c: cutoverOf({ server }) };
    const group = new GroupCutover(new Map(Object.entries(members).map(([name, m]) => [name, m.cutover])));
    group.start(REQUEST);
    const view = await groupEnded(group);
    expect(view.state).toBe('failed');
    expect(server.readOnly, "x's stream has stopped: its source must stay read-only").toBe(true);
    for (const name of ['a', 'c'] as const) {
      expect(members[name].calls, 'the fence up already, a member writes its marker only').toEqual([]);
      expect(view.pipelines[name]!.reason).toMatch(
        /; the source was read-only before this cutover started \(another cutover's fence\?\): it stays so, not lifted by this one$/,
      );
    }
    expect(members.b.calls).toEqual(['fence', 'unfence', 'unfence']);
  });

  it('lifts the fence of a server its members share when the group fails: the member that put it up lifts it', async () => {
    const server = { readOnly: false };
    const members = { a: cutoverOf({ server }), b: cutoverOf({ targetRows: 9, counted: sleep(30) }), c: cutoverOf({ server }) };
    const group = new GroupCutover(new Map(Object.entries(members).map(([name, m]) => [name, m.cutover])));
    group.start(REQUEST);
    const view = await groupEnded(group);
    expect(view.state).toBe('failed');
    expect(server.readOnly).toBe(false);
    expect(Object.values(view.pipelines).map((v) => v.state)).toEqual(['failed', 'failed', 'failed']);
  });

  it('refuses a second grouped cutover while one runs', async () => {
    const { group } = groupOf({ counted: sleep(30) });
    group.start(REQUEST);
    expect(() => group.start({ ...REQUEST, pipelines: ['a'] })).toThrow(/^a grouped cutover \(.+\) is running$/);
    expect(await groupEnded(group)).toMatchObject({ state: 'completed' });
  });
});

describe('POST /cutover {"pipelines": [...]}', () => {
  it('names at least one pipeline, each once', () => {
    expect(cutoverRequestSchema.safeParse({ pipelines: ['a', 'b'] }).success).toBe(true);
    expect(cutoverRequestSchema.safeParse({ pipelines: [] }).success).toBe(false);
    expect(cutoverRequestSchema.safeParse({ pipelines: ['a', 'a'] }).error?.issues[0]?.message).toBe('names a pipeline twice');
    expect(cutoverRequestSchema.safeParse({ pipelines: [''] }).success).toBe(false);
  });
});
