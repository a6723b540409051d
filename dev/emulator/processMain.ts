// The child side of startEmulatorProcess (./ownProcess.ts): starts the emulator with the options the
// parent sends over IPC, answers with its URL and CA, and stops when told or when the parent goes.
import { type EmulatorOptions, type RunningEmulator, startEmulator } from './server';

export type ToChild = { kind: 'start'; options: EmulatorOptions } | { kind: 'stop' };
export type FromChild =
  { kind: 'started'; url: string; caPem: string } | { kind: 'failed'; message: string } | { kind: 'stopped' };

let running: RunningEmulator | undefined;

function send(message: FromChild): void {
  process.send?.(message);
}

async function stopAndExit(): Promise<void> {
  await running?.stop().catch(() => undefined);
  send({ kind: 'stopped' });
  process.disconnect?.();
  process.exit(0);
}

process.on('message', (message: ToChild) => {
  if (message.kind === 'stop') {
    void stopAndExit();
    return;
  }
  startEmulator(message.options).then(
    (emulator) => {
      running = emulator;
      send({ kind: 'started', url: emulator.url, caPem: emulator.caPem });
    },
    (error: unknown) => {
      send({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
});
// An orphan would hold its port and deliveries: the parent's end of the channel closing stops it.
process.on('disconnect', () => void stopAndExit());
