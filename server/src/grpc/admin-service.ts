import type { AdminServiceServer } from '@floodgate/client';
import type { Admin } from '../admin/admin.js';
import type { AdminAuth } from '../admin/admin-auth.js';
import type { Logger } from '../log.js';
import { unary, type CallContext } from './call.js';

/** Every admin RPC checks the bearer token first, then logs what it did. */
export function adminService(admin: Admin, auth: AdminAuth, log: Logger): AdminServiceServer {
  const guarded = <Req, Res>(method: string, handler: (req: Req) => Promise<Res>) =>
    unary(log, method, async (req: Req, ctx: CallContext) => {
      auth.verify(ctx.metadata);
      const res = await handler(req);
      // An audit line per admin action, with the user it touched.
      ctx.log.info({ admin: method, userId: (req as { userId?: string }).userId || undefined }, 'admin call');
      return res;
    });
  return {
    listUsers: guarded('ListUsers', (req) => admin.listUsers(req)),
    getUserDetail: guarded('GetUserDetail', (req) => admin.userDetail(req)),
    getStatistics: guarded('GetStatistics', () => admin.statistics()),
    setSuspension: guarded('SetSuspension', (req) => admin.setSuspension(req)),
    resetTracking: guarded('ResetTracking', (req) => admin.resetTracking(req)),
    resetRateLimits: guarded('ResetRateLimits', (req) => admin.resetRateLimits(req)),
    getStoreStatus: guarded('GetStoreStatus', () => admin.storeStatus()),
  };
}
