// Azure limits the local durable engine enforces, so code that would fail in Azure fails here too.
//
// Custom status: "The custom status payload is limited to 16 KB of UTF-16 JSON text"
// (learn.microsoft.com/azure/durable-task/common/durable-task-custom-orchestration-status; the .NET
// SetCustomStatus docs: "must not exceed 16 KB of UTF-16 encoded text"). In Azure the orchestrator
// episode that sets a bigger one fails, and with it the orchestration.

export const CUSTOM_STATUS_MAX_UTF16_BYTES = 16 * 1024;

/** Size of a value's JSON text in UTF-16 (2 bytes per code unit, as .NET strings count). */
export function utf16JsonBytes(value: unknown): number {
  return (JSON.stringify(value ?? null)?.length ?? 0) * 2;
}

/** Why Azure would reject this custom status, or undefined when it fits. */
export function customStatusProblem(status: unknown): string | undefined {
  const bytes = utf16JsonBytes(status);
  return bytes > CUSTOM_STATUS_MAX_UTF16_BYTES
    ? `The custom status is ${bytes} bytes of UTF-16 JSON; Durable Functions allows at most ${CUSTOM_STATUS_MAX_UTF16_BYTES}`
    : undefined;
}
