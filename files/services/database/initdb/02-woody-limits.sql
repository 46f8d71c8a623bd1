-- The API connects as root over the network. MariaDB exempts SUPER accounts from
-- max_connections and max_user_connections, so cap that account itself: one connection
-- at a time (build arg MAX_CONNECTIONS; at run time:
-- ALTER USER 'root'@'%' WITH MAX_USER_CONNECTIONS 0 lifts it). The local root
-- ('root'@'localhost', used by `docker exec`) keeps no cap.
ALTER USER IF EXISTS 'root'@'%' WITH MAX_USER_CONNECTIONS 1;
