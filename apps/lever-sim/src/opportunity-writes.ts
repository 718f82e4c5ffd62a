import { randomUUID } from 'node:crypto';
import type { AccountData, LeverNote, LeverOpportunity, LeverResume } from './data.js';

/**
 * The changes the API's write routes make to an account's opportunities, apart from HTTP. Each returns
 * what changed (from → to), which is what Lever's webhook events carry.
 */

export function findOpportunity(data: AccountData, id: string): LeverOpportunity | undefined {
  return data.opportunities.find((o) => o.id === id);
}

export type StageChange = { fromStageId: string; toStageId: string };

/** Undefined when the stage is not one of the account's. Moving to the stage it is in changes nothing. */
export function changeStage(data: AccountData, opportunity: LeverOpportunity, stageId: string, at: number): StageChange | undefined {
  if (!data.stages.some((s) => s.id === stageId)) return undefined;
  const fromStageId = opportunity.stage;
  if (fromStageId !== stageId) {
    opportunity.stage = stageId;
    opportunity.updatedAt = at;
  }
  return { fromStageId, toStageId: stageId };
}

export type Archived = LeverOpportunity['archived'];
export type ArchiveChange = { fromArchived: Archived; toArchived: Archived };

/**
 * `reason` archives (with that reason), `null` unarchives. Asking for the state it is already in changes
 * nothing (not even `archivedAt`), and the caller emits no event for it.
 */
export function setArchived(opportunity: LeverOpportunity, reason: string | null, at: number): ArchiveChange {
  const fromArchived = opportunity.archived;
  if ((fromArchived?.reason ?? null) !== reason) {
    opportunity.archived = reason === null ? null : { archivedAt: at, reason };
    opportunity.updatedAt = at;
  }
  return { fromArchived, toArchived: opportunity.archived };
}

export function isArchiveChanged(change: ArchiveChange): boolean {
  return change.fromArchived !== change.toArchived;
}

export function addNote(data: AccountData, opportunity: LeverOpportunity, value: string, at: number): LeverNote {
  const note: LeverNote = { id: randomUUID(), value, createdAt: at };
  data.notes.set(opportunity.id, [...(data.notes.get(opportunity.id) ?? []), note]);
  return note;
}

export function addResume(data: AccountData, opportunity: LeverOpportunity, file: LeverResume['file'], at: number): LeverResume {
  const resume: LeverResume = { id: randomUUID(), createdAt: at, file };
  data.resumes.set(opportunity.id, [...(data.resumes.get(opportunity.id) ?? []), resume]);
  opportunity.updatedAt = at;
  return resume;
}
