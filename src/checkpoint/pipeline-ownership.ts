import { FerryError } from '../core/errors.js';

/** The error of a process whose pipeline another process took over (checkpoint owner fencing). */
export function takenOver(pipeline: string): FerryError {
  return new FerryError('fatal', `another ferry process took over pipeline ${pipeline}; this one stops without writing`, {
    hint: 'run one ferry process per pipeline; the other process carries on from the checkpoint',
  });
}

export function alreadyRunning(pipeline: string): FerryError {
  return new FerryError('fatal', `another ferry process is already running pipeline ${pipeline} against this target`, {
    hint: 'stop the other process first (ferry status shows where it is); one pipeline has one applier',
  });
}
