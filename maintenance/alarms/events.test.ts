import { describe, expect, it } from 'vitest';
import { alarmLine, alarmStatePayload, alarmTopic } from './events.js';
import type { AlarmEvent, AlarmSnapshot } from './types.js';

const event: AlarmEvent = {
  kind: 'raised',
  key: 'plant1/conveyor1/error_code',
  site: 'plant1',
  area: 'packaging',
  line: 'line 1',
  asset: 'conveyor1',
  rule: 'error_code',
  node: 'edge-01',
  tag: 'error_code',
  severity: 'high',
  priority: 'HIGH',
  state: 'active_unacked',
  shelved: null,
  suppressed: false,
  value: 1,
  text: 'error_code = 1: motor "overload"',
  occurrences: 1,
  raisedAt: 1732480000123,
  dueAt: 1732480000123 + 86_400_000,
  ts: 1732480000123,
  description: '',
  closeOnClear: false,
};

describe('alarmLine', () => {
  it.each<[string, Partial<AlarmEvent>, string | undefined, string]>([
    [
      'a raised enumeration with its work order',
      {},
      'WO000123',
      'alarms,area=packaging,asset=conveyor1,line=line\\ 1,rule=error_code,severity=high,site=plant1 event="raised",state="active_unacked",text="error_code = 1: motor \\"overload\\"",value=1,work_order="WO000123" 1732480000123',
    ],
    [
      'a boolean as 0/1, no work order, an empty area left out',
      { kind: 'cleared', state: 'returned_unacked', value: false, area: '', text: 'x' },
      undefined,
      'alarms,asset=conveyor1,line=line\\ 1,rule=error_code,severity=high,site=plant1 event="cleared",state="returned_unacked",text="x",value=0 1732480000123',
    ],
    [
      'text and missing values have no value field',
      { kind: 'raised', value: null, text: 't' },
      undefined,
      'alarms,area=packaging,asset=conveyor1,line=line\\ 1,rule=error_code,severity=high,site=plant1 event="raised",state="active_unacked",text="t" 1732480000123',
    ],
    [
      'a string value',
      { value: 'JAM', text: 't' },
      '',
      'alarms,area=packaging,asset=conveyor1,line=line\\ 1,rule=error_code,severity=high,site=plant1 event="raised",state="active_unacked",text="t" 1732480000123',
    ],
  ])('%s', (_what, patch, workOrder, line) => {
    expect(alarmLine({ ...event, ...patch }, workOrder)).toBe(line);
  });
});

describe('MQTT state', () => {
  it('topic and retained payload', () => {
    expect(alarmTopic('plant1', 'conveyor1', 'error_code')).toBe(
      'factorylm/plant1/_alarms/conveyor1/error_code',
    );
    const snapshot: AlarmSnapshot = { ...event };
    delete (snapshot as Partial<AlarmEvent>).kind;
    expect(JSON.parse(alarmStatePayload(snapshot, 'WO000123'))).toEqual({
      ...snapshot,
      workOrder: 'WO000123',
    });
    expect(JSON.parse(alarmStatePayload(snapshot))).toEqual(snapshot);
  });
});
