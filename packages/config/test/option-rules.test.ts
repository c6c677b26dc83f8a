// The checker behind every constructor's options (issue 23 item 8): unknown
// keys with the nearest valid one, wrong types with what was got.
import { describe, expect, it } from '@jest/globals';
import { checkOptions, describeValue, editDistance, nearestKey, optionRule as r } from '../src/index.js';

const rules = {
  socketDir: r.string(),
  port: r.port(0),
  maxRetries: r.int(1, undefined, true),
  reconnect: r.nested({ maxRetries: r.int(1, undefined, true), initialDelay: r.int(0, 1000) }),
  token: r.secret(),
};

function message(options: unknown): string {
  try {
    checkOptions(options, rules, 'Thing');
  } catch (err) {
    expect((err as { code?: string }).code).toBe('INVALID_CONFIG');
    return (err as Error).message;
  }
  return 'accepted';
}

describe('checkOptions', () => {
  it('names the nearest valid key of an unknown one (case, typo, prefix), or lists them all', () => {
    expect(message({ socketdir: '/x' })).toBe("unknown option 'socketdir' for Thing: did you mean 'socketDir'?");
    expect(message({ prot: 1 })).toBe("unknown option 'prot' for Thing: did you mean 'port'?");
    expect(message({ maxRetry: 1 })).toBe("unknown option 'maxRetry' for Thing: did you mean 'maxRetries'?");
    expect(message({ colour: 1 })).toBe(
      "unknown option 'colour' for Thing: the options are maxRetries, port, reconnect, socketDir, token",
    );
    expect(message({ reconnect: { initalDelay: 5 } })).toBe(
      "unknown option 'reconnect.initalDelay' for Thing: did you mean 'reconnect.initialDelay'?",
    );
  });

  it('says what a value of the wrong type is', () => {
    expect(message({ port: '9050' })).toBe("port must be an integer 0–65535, got the string '9050' (Thing)");
    expect(message({ port: 1.5 })).toBe('port must be an integer 0–65535, got the number 1.5 (Thing)');
    expect(message({ maxRetries: 0 })).toBe('maxRetries must be Infinity or an integer >= 1, got the number 0 (Thing)');
    expect(message({ reconnect: false })).toBe('reconnect must be an object, got false (Thing)');
    expect(message({ reconnect: { initialDelay: 5000 } })).toBe(
      'reconnect.initialDelay must be an integer 0–1000, got the number 5000 (Thing)',
    );
    expect(message({ token: 123 })).toBe('token must be a string, got the number 123 (Thing)');
    expect(message('socketDir=/x')).toBe("the options of Thing must be an object, got the string 'socketDir=/x'");
  });

  it('accepts valid options, undefined values and Infinity where allowed', () => {
    expect(message({})).toBe('accepted');
    expect(
      message({
        socketDir: '/x',
        port: 0,
        maxRetries: Number.POSITIVE_INFINITY,
        reconnect: { maxRetries: 3 },
        token: undefined,
      }),
    ).toBe('accepted');
  });
});

describe('describeValue / nearestKey', () => {
  it('shows values as a person would name them, never a secret', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue(Buffer.from('x'))).toBe('an instance of Buffer');
    expect(describeValue(10n)).toBe('the bigint 10n');
    expect(describeValue('a\nb')).toBe("the string 'a\\nb'");
    expect(describeValue('hunter2-hunter2-hunter2', true)).toBe('a string of 23 characters');
  });

  it('edit distance and the "near enough" bound', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(nearestKey('zzzzzz', ['socketDir', 'port'])).toBeUndefined();
    expect(nearestKey('SOCKETDIR', ['socketDir', 'port'])).toBe('socketDir');
  });
});
