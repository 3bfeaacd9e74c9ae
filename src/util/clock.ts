import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Time and randomness are injected so tests never wait on real time. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleepTimer(ms, undefined, signal ? { signal } : undefined);
  },
  random: () => Math.random(),
};
