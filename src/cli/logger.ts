/** A terse logger for interactive commands: warnings to stderr as plain lines; info only when asked. */
export function cliLogger(verbose = false): {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
} {
  const line = (level: string, message: string | undefined): void => {
    process.stderr.write(`ckawatch: ${level}${message ?? ''}\n`);
  };
  return {
    info: (_f, m) => verbose && line('', m),
    warn: (_f, m) => line('warning: ', m),
    error: (_f, m) => line('error: ', m),
  };
}
