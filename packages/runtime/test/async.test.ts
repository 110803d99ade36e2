import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { JointAbort } from '../src/index.js';

describe('JointAbort', () => {
  it('aborts once every caller that joined gave up', () => {
    const [a, b] = [new AbortController(), new AbortController()];
    const joint = new JointAbort();
    joint.join(a.signal);
    joint.join(b.signal);
    a.abort(new Error('a gave up'));
    expect(joint.signal.aborted).toBe(false);
    b.abort(new Error('b gave up'));
    expect(joint.signal.aborted).toBe(true);
    expect((joint.signal.reason as Error).message).toBe('b gave up');
  });

  it('never aborts when a caller joined without a signal', () => {
    const a = new AbortController();
    const joint = new JointAbort();
    joint.join(a.signal);
    joint.join(undefined);
    a.abort();
    expect(joint.signal.aborted).toBe(false);
  });

  it('leaves no listener on a long-lived signal once closed (one per call leaked before)', () => {
    const run = new AbortController();
    for (let i = 0; i < 1000; i++) {
      const joint = new JointAbort();
      joint.join(run.signal);
      joint.close();
    }
    expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
  });
});
