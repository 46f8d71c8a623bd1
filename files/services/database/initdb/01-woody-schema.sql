-- WoodyToys schema and seed rows (run once, on an empty data directory, by the image's
-- entrypoint from /docker-entrypoint-initdb.d/). The database name is fixed by the contract.
CREATE DATABASE IF NOT EXISTS woody CHARACTER SET utf8mb4;
USE woody;

CREATE TABLE IF NOT EXISTS product (
  id INT AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(200)
) DEFAULT CHARSET = utf8mb4;

INSERT INTO product (name) VALUES ('Yoyo'), ('Joli train');

CREATE TABLE IF NOT EXISTS `order` (
  order_id VARCHAR(200) NOT NULL PRIMARY KEY,
  status VARCHAR(200),
  product VARCHAR(200)
) DEFAULT CHARSET = utf8mb4;
