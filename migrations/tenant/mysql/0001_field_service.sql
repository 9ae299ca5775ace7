-- Tenant schema v1 (MySQL/MariaDB): the field-service sample app.
CREATE TABLE users (
    id            BIGINT AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(64) NOT NULL UNIQUE,
    full_name     TEXT NOT NULL,
    role          VARCHAR(20) NOT NULL DEFAULT 'user',
    password_hash TEXT NOT NULL,
    created_at    VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customers (
    id         BIGINT AUTO_INCREMENT PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT,
    phone      TEXT,
    address    TEXT,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE sites (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    name        TEXT NOT NULL,
    address     TEXT,
    city        TEXT,
    created_at  VARCHAR(40) NOT NULL,
    updated_at  VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX sites_customer ON sites(customer_id);

CREATE TABLE tickets (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    site_id     BIGINT NOT NULL REFERENCES sites(id),
    title       TEXT NOT NULL,
    description TEXT,
    status      VARCHAR(20) NOT NULL DEFAULT 'open',
    priority    VARCHAR(20) NOT NULL DEFAULT 'normal',
    assigned_to BIGINT REFERENCES users(id),
    created_at  VARCHAR(40) NOT NULL,
    updated_at  VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX tickets_site ON tickets(site_id);
