import type { TrackingServiceServer } from '@floodgate/client';
import type { Logger } from '../log.js';
import type { Tracker } from '../tracking/tracker.js';
import { unary } from './call.js';

export function trackingService(tracker: Tracker, log: Logger): TrackingServiceServer {
  return {
    recordActivity: unary(log, 'RecordActivity', async (req) => {
      await tracker.record(tracker.event(req));
      return { buffered: false };
    }),
    getUserStats: unary(log, 'GetUserStats', (req) => tracker.stats(req.userId)),
  };
}
