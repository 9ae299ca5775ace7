-- Tenant schema v1 (MySQL/MariaDB): the field-service sample app.
-- VARCHAR, not TEXT: MySQL reports TEXT columns as BLOB, which sqlx's Any driver will not decode as text.
CREATE TABLE users (
    id            BIGINT AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(64) NOT NULL UNIQUE,
    full_name     VARCHAR(200) NOT NULL,
    role          VARCHAR(20) NOT NULL DEFAULT 'user',
    password_hash VARCHAR(255) NOT NULL,
    created_at    VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customers (
    id         BIGINT AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    email      VARCHAR(254),
    phone      VARCHAR(40),
    address    VARCHAR(500),
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE sites (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    name        VARCHAR(200) NOT NULL,
    address     VARCHAR(500),
    city        VARCHAR(100),
    created_at  VARCHAR(40) NOT NULL,
    updated_at  VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX sites_customer ON sites(customer_id);

CREATE TABLE tickets (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    site_id     BIGINT NOT NULL REFERENCES sites(id),
    title       VARCHAR(200) NOT NULL,
    description VARCHAR(5000),
    status      VARCHAR(20) NOT NULL DEFAULT 'open',
    priority    VARCHAR(20) NOT NULL DEFAULT 'normal',
    assigned_to BIGINT REFERENCES users(id),
    created_at  VARCHAR(40) NOT NULL,
    updated_at  VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX tickets_site ON tickets(site_id);
