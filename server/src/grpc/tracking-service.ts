import { FloodgateError, type TrackingServiceServer } from '@floodgate/client';
import type { Logger } from '../log.js';
import type { Tracker } from '../tracking/tracker.js';
import { unary } from './call.js';

export function trackingService(tracker: Tracker, log: Logger): TrackingServiceServer {
  return {
    recordActivity: unary(log, 'RecordActivity', async (req) => {
      const result = await tracker.record(tracker.event(req));
      // Not written and not held: the caller must know it was not accepted.
      if (result === 'dropped') throw FloodgateError.unavailable('tracking buffer full while Redis is unreachable: activity not recorded');
      return { buffered: result === 'buffered' };
    }),
    getUserStats: unary(log, 'GetUserStats', (req) => tracker.stats(req.userId)),
  };
}
