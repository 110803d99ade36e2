import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * The root logger: JSON lines on stdout, level from LOG_LEVEL (default info). Components
 * take a child of it (`logger.child({ controller })`) so each line says where it is from.
 */
export function createLogger(
  options: { level?: string; name?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}

/** A logger that writes nothing, the default for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
