// A PostgreSQL adapter for oidc-provider: its documented adapter interface (upsert, find, findByUserCode,
// findByUid, consume, destroy, revokeByGrantId; see the package's example/my_adapter.js), so that the
// bench's second oidc-provider run keeps its tokens, codes, grants and sessions in PostgreSQL as MotID does.
//
//   const storage = await createPgStorage({ connectionString, poolSize });
//   new Provider(issuer, { adapter: storage.Adapter, ... });
//   ...; await storage.close();
//
// One table for every model, keyed by (id, type); the columns the lookups need beside the JSON payload:
//   grant_id     revokeByGrantId (tokens and codes of one grant)
//   user_code    findByUserCode (DeviceCode)
//   uid          findByUid (Session)
//   expires_at   upsert's expiresIn; a row past it is never returned, and a sweep deletes such rows
//   consumed_at  consume(); find() then returns the payload with `consumed` (epoch seconds) added
// Every statement is one round trip, a named prepared statement on each pooled connection.
import pg from 'pg';

const TABLE = 'oidc_payloads';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${TABLE} (
  id          text        NOT NULL,
  type        text        NOT NULL,
  payload     jsonb       NOT NULL,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (id, type)
);
CREATE INDEX IF NOT EXISTS ${TABLE}_grant_id ON ${TABLE} (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${TABLE}_user_code ON ${TABLE} (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${TABLE}_uid ON ${TABLE} (uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${TABLE}_expires_at ON ${TABLE} (expires_at) WHERE expires_at IS NOT NULL;
`;

// the payload as stored, plus `consumed` once consumed; nothing past its expiry
const SELECT = `SELECT CASE WHEN consumed_at IS NULL THEN payload
                       ELSE payload || jsonb_build_object('consumed', floor(extract(epoch FROM consumed_at))::bigint)
                       END AS payload
                  FROM ${TABLE}`;
const LIVE = '(expires_at IS NULL OR expires_at > now())';

const STATEMENTS = {
  upsert: `INSERT INTO ${TABLE} (id, type, payload, grant_id, user_code, uid, expires_at)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, now() + $7::double precision * interval '1 second')
           ON CONFLICT (id, type) DO UPDATE
              SET payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
                  uid = excluded.uid, expires_at = excluded.expires_at`,
  find: `${SELECT} WHERE id = $1 AND type = $2 AND ${LIVE}`,
  findByUid: `${SELECT} WHERE uid = $1 AND type = $2 AND ${LIVE}`,
  findByUserCode: `${SELECT} WHERE user_code = $1 AND type = $2 AND ${LIVE}`,
  consume: `UPDATE ${TABLE} SET consumed_at = now() WHERE id = $1 AND type = $2 AND consumed_at IS NULL`,
  destroy: `DELETE FROM ${TABLE} WHERE id = $1 AND type = $2`,
  revokeByGrantId: `DELETE FROM ${TABLE} WHERE grant_id = $1 AND type = $2`,
  sweep: `DELETE FROM ${TABLE} WHERE expires_at < now()`,
};

export async function createPgStorage({ connectionString, poolSize = 10, sweepSeconds = 60 }) {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  pool.on('error', (err) => console.error('pg pool error', err)); // an idle client's connection dropped
  await pool.query(SCHEMA);

  function run(name, values) {
    return pool.query({ name: `oidc_${name}`, text: STATEMENTS[name], values });
  }

  async function one(name, values) {
    const { rows } = await run(name, values);
    return rows.length ? rows[0].payload : undefined;
  }

  class PgAdapter {
    constructor(model) {
      this.type = model;
    }

    async upsert(id, payload, expiresIn) {
      await run('upsert', [
        id, this.type, JSON.stringify(payload), payload.grantId ?? null, payload.userCode ?? null,
        this.type === 'Session' ? (payload.uid ?? null) : null,
        typeof expiresIn === 'number' ? expiresIn : null,
      ]);
    }

    async find(id) {
      return one('find', [id, this.type]);
    }

    async findByUid(uid) {
      return one('findByUid', [uid, this.type]);
    }

    async findByUserCode(userCode) {
      return one('findByUserCode', [userCode, this.type]);
    }

    async consume(id) {
      await run('consume', [id, this.type]);
    }

    async destroy(id) {
      await run('destroy', [id, this.type]);
    }

    async revokeByGrantId(grantId) {
      await run('revokeByGrantId', [grantId, this.type]);
    }
  }

  const sweeper = setInterval(() => {
    run('sweep', []).catch((err) => console.error('sweep failed', err));
  }, sweepSeconds * 1000);
  sweeper.unref();

  return {
    Adapter: PgAdapter,
    pool,
    async close() {
      clearInterval(sweeper);
      await pool.end();
    },
  };
}
