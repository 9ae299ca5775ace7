-- Tenant schema v1 (SQL Server / Azure SQL): the field-service sample app.
-- NVARCHAR for Unicode text; times are DATETIME2(3) in UTC (the other engines keep RFC 3339 text).
-- Constraints are named so later migrations can drop or change them (SQL Server would otherwise
-- generate a random name per database).
CREATE TABLE users (
    id            BIGINT IDENTITY(1,1) CONSTRAINT pk_users PRIMARY KEY,
    username      NVARCHAR(64) NOT NULL CONSTRAINT uq_users_username UNIQUE,
    full_name     NVARCHAR(200) NOT NULL,
    role          NVARCHAR(20) NOT NULL CONSTRAINT df_users_role DEFAULT N'user',
    password_hash NVARCHAR(255) NOT NULL,
    created_at    DATETIME2(3) NOT NULL
);

CREATE TABLE customers (
    id         BIGINT IDENTITY(1,1) CONSTRAINT pk_customers PRIMARY KEY,
    name       NVARCHAR(200) NOT NULL,
    email      NVARCHAR(254) NULL,
    phone      NVARCHAR(40) NULL,
    address    NVARCHAR(500) NULL,
    created_at DATETIME2(3) NOT NULL,
    updated_at DATETIME2(3) NOT NULL
);

CREATE TABLE sites (
    id          BIGINT IDENTITY(1,1) CONSTRAINT pk_sites PRIMARY KEY,
    customer_id BIGINT NOT NULL CONSTRAINT fk_sites_customer REFERENCES customers(id),
    name        NVARCHAR(200) NOT NULL,
    address     NVARCHAR(500) NULL,
    city        NVARCHAR(100) NULL,
    created_at  DATETIME2(3) NOT NULL,
    updated_at  DATETIME2(3) NOT NULL
);
CREATE INDEX sites_customer ON sites(customer_id);

CREATE TABLE tickets (
    id          BIGINT IDENTITY(1,1) CONSTRAINT pk_tickets PRIMARY KEY,
    site_id     BIGINT NOT NULL CONSTRAINT fk_tickets_site REFERENCES sites(id),
    title       NVARCHAR(200) NOT NULL,
    description NVARCHAR(MAX) NULL,
    status      NVARCHAR(20) NOT NULL CONSTRAINT df_tickets_status DEFAULT N'open',
    priority    NVARCHAR(20) NOT NULL CONSTRAINT df_tickets_priority DEFAULT N'normal',
    assigned_to BIGINT NULL CONSTRAINT fk_tickets_assigned_to REFERENCES users(id),
    created_at  DATETIME2(3) NOT NULL,
    updated_at  DATETIME2(3) NOT NULL
);
CREATE INDEX tickets_site ON tickets(site_id);
