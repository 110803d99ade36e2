import type { EventRecorder } from '@chousei/runtime';

/** Where Events go: the recorder, or a collector when nothing may be written (a plan). */
export type EventSink = Pick<EventRecorder, 'event'>;
