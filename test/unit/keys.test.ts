import { describe, expect, it } from 'vitest';
import { hashTagOf, KeySpace } from '../../server/src/store/keys.js';

describe('KeySpace', () => {
  it("builds a subject's keys under one hash tag, with ids escaped, the same for every call", () => {
    const keys = new KeySpace('fg:');
    expect(keys.rateLimit('user', 'a{b}:c', 'ai', 'sl')).toBe('fg:{u:a%7Bb%7D%3Ac}:rl:ai:sl');
    expect(keys.block('user', 'a{b}:c')).toBe('fg:{u:a%7Bb%7D%3Ac}:blk');
    expect(keys.rateLimit('ip', '10.0.0.1', 'ai', 'sl')).toBe('fg:{ip:10.0.0.1}:rl:ai:sl');
    expect(hashTagOf(keys.rateLimit('ip', '10.0.0.1', 'ai', 'sl'))).toBe(hashTagOf(keys.block('ip', '10.0.0.1')));
    // A user and an IP with the same id stay apart.
    expect(keys.block('user', '10.0.0.1')).not.toBe(keys.block('ip', '10.0.0.1'));
  });

  it("gives a policy whose algorithm changed its new algorithm's key (a changed algorithm starts clean)", () => {
    const keys = new KeySpace('fg:');
    expect(keys.rateLimit('user', 'u', 'ai', 'sl')).toBe('fg:{u:u}:rl:ai:sl');
    expect(keys.rateLimit('user', 'u', 'ai', 'tb')).toBe('fg:{u:u}:rl:ai:tb');
    expect(keys.rateLimit('user', 'u', 'ai', 'sl')).toBe('fg:{u:u}:rl:ai:sl');
  });

  it('keeps building the right keys past the subjects it remembers', () => {
    const keys = new KeySpace('p:');
    for (let i = 0; i < 25_000; i++) expect(keys.rateLimit('user', `u${i}`, 'general', 'sl')).toBe(`p:{u:u${i}}:rl:general:sl`);
    expect(keys.block('user', 'u3')).toBe('p:{u:u3}:blk');
  });
});
