-- Communities (社区) and their grids (网格); residents, their contacts; users and what they may see.

CREATE TABLE communities (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    name_en     text CHECK (length(name_en) <= 200),
    district    text NOT NULL DEFAULT '涪陵区',
    subdistrict text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grids (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id bigint NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (community_id, name),
    UNIQUE (id, community_id)
);

CREATE TABLE residents (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sex                    text NOT NULL CHECK (sex IN ('female', 'male')),
    birth_date             date NOT NULL CHECK (birth_date > DATE '1900-01-01'),
    conditions             text[] NOT NULL DEFAULT '{}'
                           CHECK (conditions <@ ARRAY['hypertension', 'diabetes']),
    community_id           bigint NOT NULL REFERENCES communities (id),
    grid_id                bigint,
    language               text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    time_zone              text NOT NULL DEFAULT 'Asia/Shanghai',
    -- Personal targets; NULL means the guideline default for the resident's age applies.
    target_systolic        smallint CHECK (target_systolic BETWEEN 90 AND 200),
    target_diastolic       smallint CHECK (target_diastolic BETWEEN 50 AND 120),
    target_fasting_glucose real CHECK (target_fasting_glucose BETWEEN 3 AND 15),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- A grid, when given, must lie in the resident's community.
    FOREIGN KEY (grid_id, community_id) REFERENCES grids (id, community_id)
);
CREATE INDEX residents_community_idx ON residents (community_id, grid_id);

CREATE TABLE contacts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id       bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind              text NOT NULL CHECK (kind IN ('family', 'neighbour', 'other')),
    relationship      text CHECK (length(relationship) <= 100),
    phone             text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    language          text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    escalation_order  smallint NOT NULL CHECK (escalation_order >= 1),
    -- Non-urgent messages wait while the contact's local clock is inside [start, end).
    quiet_hours_start time,
    quiet_hours_end   time,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (resident_id, escalation_order),
    CHECK ((quiet_hours_start IS NULL) = (quiet_hours_end IS NULL))
);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('doctor', 'admin', 'family')),
    password_hash text,
    language      text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE UNIQUE INDEX users_username_idx ON users (lower(username));

-- Doctors see the residents of the communities they serve.
CREATE TABLE user_communities (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    community_id bigint NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, community_id)
);

-- Family members see their relatives only.
CREATE TABLE user_residents (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resident_id bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, resident_id)
);

-- Personal API tokens; only their SHA-256 is stored.
CREATE TABLE user_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
