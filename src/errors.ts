/** An error meant for the user: the CLI prints its message as one line, no stack trace. */
export class VaekitError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "VaekitError";
  }
}

/** A bad command line: exit code 2, like other Unix tools. */
export class UsageError extends VaekitError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
