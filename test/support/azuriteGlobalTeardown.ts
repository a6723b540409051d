export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __azuriteStop__?: () => Promise<void> }).__azuriteStop__?.();
}
