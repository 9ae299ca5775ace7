-- Tenant schema v2 (SQL Server / Azure SQL): users can be disabled; users get updated_at.
ALTER TABLE users ADD disabled BIT NOT NULL CONSTRAINT df_users_disabled DEFAULT 0;
ALTER TABLE users ADD updated_at DATETIME2(3) NULL;
