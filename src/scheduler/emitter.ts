/**
 * Emitting the scheduler's events so that no listener can hurt the host or the scheduler: a
 * listener that throws, or returns a promise that rejects, is reported through the `error` event
 * (operation `'listener'`); the other listeners still run.
 */
import type { EventEmitter } from 'eventemitter3';
import { toError } from '../errors.js';
import type { SchedulerEvents } from '../events.js';
import { isThenable } from './cas.js';

export type EventName = keyof SchedulerEvents;
export type EventPayload<E extends EventName> = Parameters<SchedulerEvents[E]>[0];
export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

/** Builds the scheduler's `emit`: listeners in turn, each guarded. */
export function safeEmitter(target: EventEmitter<SchedulerEvents>): { emit: Emit; reportError: (operation: string, error: unknown, fabricId?: string) => void } {
  const reportError = (operation: string, error: unknown, fabricId?: string): void => {
    const event = fabricId === undefined ? { error: toError(error), operation } : { error: toError(error), operation, fabricId };
    emit('error', event);
  };
  const onListenerError = (event: EventName, payload: unknown, error: unknown): void => {
    // A throwing `error` listener has nobody left to tell.
    if (event !== 'error') reportError('listener', error, (payload as { fabricId?: string }).fabricId);
  };
  const emit: Emit = (event, payload) => {
    if (target.listenerCount(event) === 0) return;
    const listeners = target.listeners(event) as Array<(p: unknown) => unknown>;
    for (const listener of listeners) {
      try {
        const value = listener.call(target, payload);
        if (isThenable(value)) value.then(undefined, (error: unknown) => onListenerError(event, payload, error));
      } catch (error) {
        onListenerError(event, payload, error);
      }
    }
  };
  return { emit, reportError };
}
