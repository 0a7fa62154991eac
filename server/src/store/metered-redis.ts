import { createHash } from 'node:crypto';
import { Cluster, Redis, type Command } from 'ioredis';
import type { RedisObserver } from '../metrics/observers.js';

type Definition = { lua: string; numberOfKeys?: number; readOnly?: boolean };

interface CommandSender {
  defineCommand(name: string, definition: Definition): void;
  sendCommand(command: Command, ...rest: any[]): unknown;
}

type Constructor<T> = new (...args: any[]) => T;

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

// A Cluster sends a redirected (MOVED/ASK) command again through sendCommand; count it once.
const seen = new WeakSet<Command>();

/**
 * A client class that reports every command it sends (pipelined ones too, and those refused
 * while disconnected) with its latency and whether it failed, once `observe` is called.
 * Scripts are reported by the name they were defined under rather than as "evalsha".
 */
function metered<B extends Constructor<CommandSender>>(Base: B) {
  return class extends Base {
    readonly scriptNames = new Map<string, string>();
    observer: RedisObserver | undefined;

    observe(observer: RedisObserver): void {
      this.observer = observer;
    }

    override defineCommand(name: string, definition: Definition): void {
      this.nameScript(name, definition.lua);
      super.defineCommand(name, definition);
    }

    /** Reports EVALSHA / EVAL of `lua` under `name`; returns its SHA1. */
    nameScript(name: string, lua: string): string {
      const sha = sha1(lua);
      this.scriptNames.set(sha, name);
      return sha;
    }

    override sendCommand(command: Command, ...rest: any[]): unknown {
      const observer = this.observer;
      if (observer && !seen.has(command)) {
        seen.add(command);
        const started = performance.now();
        const name = this.commandName(command);
        const done = (failed: boolean) => observer.redisCommand(name, (performance.now() - started) / 1000, failed);
        command.promise.then(
          () => done(false),
          // NOSCRIPT is the normal first step of loading a script; the EVAL sent next is counted.
          (err: Error) => {
            if (!err.message.startsWith('NOSCRIPT')) done(true);
          },
        );
      }
      return super.sendCommand(command, ...rest);
    }

    commandName(command: Command): string {
      if (command.name === 'evalsha') return this.scriptNames.get(String(command.args[0])) ?? 'evalsha';
      if (command.name === 'eval') return this.scriptNames.get(sha1(String(command.args[0]))) ?? 'eval';
      return command.name;
    }
  };
}

export const MeteredRedis = metered(Redis);
export const MeteredCluster = metered(Cluster);
