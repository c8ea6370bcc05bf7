/** Thrown where a run's stop was asked for: finished work is kept, and a resume goes on from there. */
export class StopRequested extends Error {
  constructor() {
    super('stopped');
  }
}
