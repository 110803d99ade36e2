import { describe, expect, it } from 'vitest';
import type { Condition } from '../src/client/types.js';
import {
  findCondition,
  InvalidConditionError,
  isConditionTrue,
  removeCondition,
  setCondition,
} from '../src/helpers/conditions.js';

const T0 = new Date('2025-01-02T03:04:05.678Z');
const T1 = new Date('2025-01-02T04:00:00.000Z');

function frozen(conditions: Condition[]): readonly Condition[] {
  return Object.freeze(conditions.map((c) => Object.freeze({ ...c })));
}

const ready: Condition = {
  type: 'Ready',
  status: 'False',
  reason: 'Pending',
  message: 'waiting',
  observedGeneration: 1,
  lastTransitionTime: '2025-01-01T00:00:00Z',
};
const synced: Condition = {
  type: 'example.com/Synced',
  status: 'True',
  reason: 'Synced',
  message: '',
  lastTransitionTime: '2025-01-01T00:00:00Z',
};

describe('setCondition', () => {
  it('adds a new condition stamped with now at whole seconds', () => {
    const { conditions, changed } = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Done' },
      T0,
    );
    expect(changed).toBe(true);
    expect(conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Done',
        message: '',
        lastTransitionTime: '2025-01-02T03:04:05Z',
      },
    ]);
  });

  it('never mutates the (frozen) input and returns a new array', () => {
    const input = frozen([ready, synced]);
    const next = setCondition(
      input,
      { type: 'Ready', status: 'True', reason: 'Done', observedGeneration: 2 },
      T0,
    );
    expect(next.conditions).not.toBe(input);
    expect(input).toEqual([ready, synced]);
    const same = setCondition(input, { ...ready }, T0);
    expect(same.changed).toBe(false);
    expect(same.conditions).not.toBe(input);
    expect(same.conditions).toEqual(input);
  });

  it('keeps lastTransitionTime when the status stays, but reports other changes', () => {
    const { conditions, changed } = setCondition(
      [ready],
      {
        type: 'Ready',
        status: 'False',
        reason: 'StillPending',
        message: 'still',
        observedGeneration: 2,
      },
      T1,
    );
    expect(changed).toBe(true);
    expect(conditions[0]).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'StillPending',
      message: 'still',
      observedGeneration: 2,
      lastTransitionTime: ready.lastTransitionTime,
    });
  });

  it('moves lastTransitionTime when the status changes', () => {
    const { conditions, changed } = setCondition(
      [ready],
      { type: 'Ready', status: 'True', reason: 'Done', observedGeneration: 1 },
      T1,
    );
    expect(changed).toBe(true);
    expect(conditions[0]?.lastTransitionTime).toBe('2025-01-02T04:00:00Z');
  });

  it('reports no change when nothing but the clock moved', () => {
    const { changed, conditions } = setCondition(
      [ready],
      {
        type: 'Ready',
        status: 'False',
        reason: 'Pending',
        message: 'waiting',
        observedGeneration: 1,
      },
      T1,
    );
    expect(changed).toBe(false);
    expect(conditions).toEqual([ready]);
  });

  it('treats a new observedGeneration alone as a change', () => {
    expect(setCondition([ready], { ...ready, observedGeneration: 2 }, T1).changed).toBe(true);
  });

  it('updates in place, keeping the order of the other conditions', () => {
    const { conditions } = setCondition(
      [ready, synced],
      { type: 'Ready', status: 'True', reason: 'Done' },
      T1,
    );
    expect(conditions.map((c) => c.type)).toEqual(['Ready', 'example.com/Synced']);
    expect(conditions[1]).toBe(synced);
  });

  it.each([
    ['', 'empty'],
    ['not ready', 'space'],
    ['1Start', 'leading digit'],
    ['Trailing:', 'trailing colon'],
    ['Dash-ed', 'dash'],
  ])('rejects reason %j (%s) naming the field', (reason) => {
    const run = () => setCondition([], { type: 'Ready', status: 'True', reason });
    expect(run).toThrow(InvalidConditionError);
    expect(run).toThrow(/reason/);
    try {
      run();
    } catch (err) {
      expect((err as InvalidConditionError).field).toBe('reason');
      expect((err as Error).message).toContain('"Ready"');
    }
  });

  it.each(['A', 'Done', 'Reason_with_underscores', 'Colons:and,commas_', 'X9'])(
    'accepts reason %j',
    (reason) => {
      expect(setCondition([], { type: 'Ready', status: 'True', reason }).changed).toBe(true);
    },
  );

  it('rejects a bad type, status or observedGeneration with the field named', () => {
    const fieldOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof InvalidConditionError ? err.field : 'other error';
      }
      return 'no error';
    };
    expect(fieldOf(() => setCondition([], { type: 'not ok', status: 'True', reason: 'R' }))).toBe(
      'type',
    );
    expect(
      fieldOf(() => setCondition([], { type: 'Ready', status: 'true' as 'True', reason: 'R' })),
    ).toBe('status');
    expect(
      fieldOf(() =>
        setCondition([], { type: 'Ready', status: 'True', reason: 'R', observedGeneration: -1 }),
      ),
    ).toBe('observedGeneration');
  });
});

describe('findCondition, isConditionTrue, removeCondition', () => {
  it('finds by type', () => {
    expect(findCondition([ready, synced], 'example.com/Synced')).toBe(synced);
    expect(findCondition([ready], 'Missing')).toBeUndefined();
    expect(findCondition(undefined, 'Ready')).toBeUndefined();
  });

  it('is true only for status True', () => {
    expect(isConditionTrue([ready, synced], 'example.com/Synced')).toBe(true);
    expect(isConditionTrue([ready], 'Ready')).toBe(false);
    expect(isConditionTrue([{ ...ready, status: 'Unknown' }], 'Ready')).toBe(false);
    expect(isConditionTrue(undefined, 'Ready')).toBe(false);
  });

  it('removes into a new array and reports whether anything was removed', () => {
    const input = frozen([ready, synced]);
    const removed = removeCondition(input, 'Ready');
    expect(removed).toEqual({ conditions: [synced], changed: true });
    expect(input).toHaveLength(2);
    const none = removeCondition(input, 'Missing');
    expect(none.changed).toBe(false);
    expect(none.conditions).toEqual(input);
    expect(none.conditions).not.toBe(input);
  });
});
