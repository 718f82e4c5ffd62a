import { createHash, randomUUID } from 'node:crypto';

/**
 * Generated Lever data, one set per Lever account, created on first use. Deterministic (seeded by the
 * account id) so a test can assert on counts and ids across runs; shapes follow Lever's v1 objects, trimmed
 * to the fields an integration usually reads.
 */

export interface LeverUser {
  id: string;
  name: string;
  username: string;
  email: string;
  accessRole: 'super admin' | 'admin' | 'team member' | 'interviewer';
  createdAt: number;
  deactivatedAt: number | null;
}

export interface LeverStage {
  id: string;
  text: string;
}

export interface LeverPosting {
  id: string;
  text: string;
  state: 'published' | 'internal' | 'closed' | 'draft';
  createdAt: number;
  updatedAt: number;
  user: string;
  owner: string;
  hiringManager: string;
  categories: { team: string; department: string; location: string; commitment: string; level: string };
  tags: string[];
}

export interface LeverApplication {
  id: string;
  opportunityId: string;
  posting: string | null;
  type: 'posting' | 'user' | 'referral' | 'agency';
  createdAt: number;
}

export interface LeverNote {
  id: string;
  value: string;
  createdAt: number;
}

/** A resume uploaded through the API. `sha256` is the sim's own: it lets a test prove the bytes arrived unchanged. */
export interface LeverResume {
  id: string;
  createdAt: number;
  file: { name: string; ext: string; size: number; sha256: string };
}

export interface LeverOpportunity {
  id: string;
  name: string;
  headline: string;
  contact: string;
  emails: string[];
  phones: Array<{ type: string; value: string }>;
  location: string;
  stage: string;
  owner: string;
  followers: string[];
  tags: string[];
  sources: string[];
  origin: 'applied' | 'sourced' | 'referred' | 'agency';
  applications: string[];
  archived: { archivedAt: number; reason: string } | null;
  createdAt: number;
  updatedAt: number;
  lastInteractionAt: number;
}

export interface AccountData {
  id: string;
  /** Shown on the consent page ("Acme" for acct_acme). */
  name: string;
  adminUserId: string;
  users: LeverUser[];
  stages: LeverStage[];
  postings: LeverPosting[];
  opportunities: LeverOpportunity[];
  /** Applications created through the API, by id. */
  applications: Map<string, LeverApplication>;
  /** Notes and resumes created through the API, by opportunity id, oldest first. */
  notes: Map<string, LeverNote[]>;
  resumes: Map<string, LeverResume[]>;
}

export const OPPORTUNITIES_PER_ACCOUNT = 250;
export const POSTINGS_PER_ACCOUNT = 30;
export const USERS_PER_ACCOUNT = 12;
const STAGE_NAMES = ['New lead', 'Reached out', 'Responded', 'New applicant', 'Recruiter screen', 'Phone interview', 'On-site interview', 'Offer'];
const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'Guido', 'Hedy', 'John', 'Katherine', 'Niklaus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman', 'van Rossum', 'Lamarr', 'McCarthy', 'Johnson', 'Wirth'];
const TEAMS = ['Engineering', 'Sales', 'Marketing', 'Support', 'Finance', 'People'];
const LOCATIONS = ['San Francisco', 'Toronto', 'London', 'Remote', 'Berlin'];
const TITLES = ['Software Engineer', 'Account Executive', 'Product Designer', 'Support Specialist', 'Data Analyst', 'Recruiter'];
const LEVELS = ['Junior', 'Mid', 'Senior', 'Staff'];
const ORIGINS = ['applied', 'sourced', 'referred', 'agency'] as const;
const EPOCH = Date.UTC(2024, 0, 1);

/** A small seeded PRNG (mulberry32): same account, same data. */
function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lever ids are UUIDs; derive them from the account so they are stable and unique across accounts. */
function stableId(account: string, kind: string, index: number): string {
  const hex = createHash('sha256').update(`${account}:${kind}:${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function accountDisplayName(account: string): string {
  const words = account.replace(/^acct_/, '').split(/[_-]+/).filter(Boolean);
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ') || account;
}

export function adminUserId(account: string): string {
  return `user_${account}_admin`;
}

function generate(account: string): AccountData {
  const random = seededRandom(account);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const at = (maxDays: number) => EPOCH + Math.floor(random() * maxDays * 86_400_000);
  const domain = `${account.replace(/[^a-z0-9]/gi, '').toLowerCase()}.example`;

  const users: LeverUser[] = [
    { id: adminUserId(account), name: 'Account Admin', username: 'admin', email: `admin@${domain}`, accessRole: 'super admin', createdAt: EPOCH, deactivatedAt: null },
  ];
  for (let i = 1; i < USERS_PER_ACCOUNT; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    users.push({
      id: stableId(account, 'user', i),
      name: `${first} ${last}`,
      username: `${first}.${last}`.toLowerCase().replace(/\s/g, ''),
      email: `${first}.${last}${i}@${domain}`.toLowerCase().replace(/\s/g, ''),
      accessRole: pick(['admin', 'team member', 'interviewer'] as const),
      createdAt: at(200),
      deactivatedAt: null,
    });
  }
  const stages = STAGE_NAMES.map((text, i) => ({ id: stableId(account, 'stage', i), text }));
  const postings: LeverPosting[] = [];
  for (let i = 0; i < POSTINGS_PER_ACCOUNT; i++) {
    const createdAt = at(300);
    postings.push({
      id: stableId(account, 'posting', i),
      text: `${pick(LEVELS)} ${pick(TITLES)}`,
      state: pick(['published', 'published', 'internal', 'closed', 'draft'] as const),
      createdAt,
      updatedAt: createdAt + Math.floor(random() * 30 * 86_400_000),
      user: pick(users).id,
      owner: pick(users).id,
      hiringManager: pick(users).id,
      categories: { team: pick(TEAMS), department: pick(TEAMS), location: pick(LOCATIONS), commitment: 'Full-time', level: pick(LEVELS) },
      tags: [],
    });
  }
  const opportunities: LeverOpportunity[] = [];
  for (let i = 0; i < OPPORTUNITIES_PER_ACCOUNT; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const createdAt = at(365);
    const updatedAt = createdAt + Math.floor(random() * 60 * 86_400_000);
    opportunities.push({
      id: stableId(account, 'opportunity', i),
      name: `${first} ${last}`,
      headline: pick(TITLES),
      contact: stableId(account, 'contact', i),
      emails: [`${first}.${last}.${i}@mail.example`.toLowerCase().replace(/\s/g, '')],
      phones: [{ type: 'mobile', value: `+1 555 ${String(1000 + i).padStart(4, '0')}` }],
      location: pick(LOCATIONS),
      stage: pick(stages).id,
      owner: pick(users).id,
      followers: [pick(users).id],
      tags: random() < 0.3 ? ['priority'] : [],
      sources: [pick(['LinkedIn', 'Referral', 'Job site', 'Agency'])],
      origin: pick(ORIGINS),
      applications: [stableId(account, 'application', i)],
      archived: random() < 0.2 ? { archivedAt: updatedAt, reason: stableId(account, 'archive-reason', 0) } : null,
      createdAt,
      updatedAt,
      lastInteractionAt: updatedAt,
    });
  }
  return { id: account, name: accountDisplayName(account), adminUserId: adminUserId(account), users, stages, postings, opportunities, applications: new Map(), notes: new Map(), resumes: new Map() };
}

export interface AccountDirectory {
  get(account: string): AccountData;
  createApplication(account: string, opportunityId: string, postingId: string | null, at: number): LeverApplication | undefined;
  clear(): void;
}

export function createAccountDirectory(): AccountDirectory {
  let accounts = new Map<string, AccountData>();
  const get = (account: string) => {
    let data = accounts.get(account);
    if (!data) {
      data = generate(account);
      accounts.set(account, data);
    }
    return data;
  };
  return {
    get,
    createApplication(account, opportunityId, postingId, at) {
      const data = get(account);
      const opportunity = data.opportunities.find((o) => o.id === opportunityId);
      if (!opportunity) return undefined;
      const application: LeverApplication = { id: randomUUID(), opportunityId, posting: postingId, type: postingId ? 'posting' : 'user', createdAt: at };
      data.applications.set(application.id, application);
      opportunity.applications.push(application.id);
      opportunity.updatedAt = at;
      return application;
    },
    clear() {
      accounts = new Map();
    },
  };
}
