"""FORLLM's own schema, for creating a new file exactly as FORLLM would.

UPSTREAM SOURCE (attribution)
  Repository : https://github.com/boilthesea/forllm
  Commit     : 06129a54ab9e6997fdb32f45a542f7aebf208883 (2025-08-12)
  File       : forllm_server/database.py, function init_db()
  Every statement below is copied VERBATIM (whitespace included) from that file, so that
  ``sqlite_master.sql`` of a file we create is byte-identical to one FORLLM created and FORLLM
  can later start on it as if it had made it. "Lnnn" = line number in that file.

We never run these on an existing file: FORLLM migrates its own tables when it starts, and
Persona Studio's additions live in ``migrations.py``. SQLModel's ``create_all`` is not used for
these tables because it would write SQLAlchemy's DDL text, not FORLLM's.
"""

from __future__ import annotations

import sqlite3

# forllm_server/config.py @ 06129a5
CURRENT_USER_ID = 1
CURRENT_USERNAME = "LocalUser"
DEFAULT_MODEL = "llama3"

# Verbatim upstream text below: keep the formatter away from it.
# fmt: off
# L34
SQL_USERS = '''
            CREATE TABLE IF NOT EXISTS users (
                user_id INTEGER PRIMARY KEY,
                username TEXT NOT NULL UNIQUE
            )
        '''
# L40
SQL_SUBFORUMS = '''
            CREATE TABLE IF NOT EXISTS subforums (
                subforum_id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE
            )
        '''
# L46
SQL_TOPICS = '''
            CREATE TABLE IF NOT EXISTS topics (
                topic_id INTEGER PRIMARY KEY AUTOINCREMENT,
                subforum_id INTEGER NOT NULL,
                user_id INTEGER NOT NULL,
                title TEXT NOT NULL,
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                FOREIGN KEY (subforum_id) REFERENCES subforums(subforum_id),
                FOREIGN KEY (user_id) REFERENCES users(user_id)
            )
        '''
# L57
SQL_POSTS = '''
            CREATE TABLE IF NOT EXISTS posts (
                post_id INTEGER PRIMARY KEY AUTOINCREMENT,
                topic_id INTEGER NOT NULL,
                user_id INTEGER NOT NULL,
                parent_post_id INTEGER, -- NULL for top-level posts in a topic
                content TEXT NOT NULL,
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                is_llm_response BOOLEAN DEFAULT FALSE,
                llm_model_id TEXT,
                llm_persona_id TEXT,
                FOREIGN KEY (topic_id) REFERENCES topics(topic_id),
                FOREIGN KEY (user_id) REFERENCES users(user_id),
                FOREIGN KEY (parent_post_id) REFERENCES posts(post_id)
            )
        '''
# L78
SQL_ALTER_POSTS_TAGGED_PERSONAS = "ALTER TABLE posts ADD COLUMN tagged_personas_in_content TEXT"
# L86
SQL_POST_PERSONA_TAGS = '''
            CREATE TABLE IF NOT EXISTS post_persona_tags (
                tag_id INTEGER PRIMARY KEY AUTOINCREMENT,
                post_id INTEGER,
                persona_id INTEGER,
                tagged_by_user_id INTEGER,
                created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
                FOREIGN KEY(post_id) REFERENCES posts(post_id),
                FOREIGN KEY(persona_id) REFERENCES personas(persona_id),
                FOREIGN KEY(tagged_by_user_id) REFERENCES users(user_id)
            )
        '''
# L98
SQL_LLM_REQUESTS = '''
            CREATE TABLE IF NOT EXISTS llm_requests (
                request_id INTEGER PRIMARY KEY AUTOINCREMENT,
                post_id_to_respond_to INTEGER, -- Made nullable
                requested_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                status TEXT NOT NULL DEFAULT 'pending', -- pending, processing, complete, error, pending_dependency
                llm_model TEXT,
                llm_persona TEXT,
                processed_at TIMESTAMP,
                error_message TEXT,
                full_prompt_sent TEXT, -- Ensuring this column is part of the main definition
                request_type TEXT,     -- New field
                request_params TEXT,   -- New field
                requested_by_user_id INTEGER, -- New field for tracking who triggered the LLM
                FOREIGN KEY (post_id_to_respond_to) REFERENCES posts(post_id),
                FOREIGN KEY (requested_by_user_id) REFERENCES users(user_id)
            )
        '''
# L117
SQL_ATTACHMENTS = '''
            CREATE TABLE IF NOT EXISTS attachments (
                attachment_id INTEGER PRIMARY KEY AUTOINCREMENT,
                post_id INTEGER NOT NULL,
                filename TEXT NOT NULL,
                filepath TEXT NOT NULL,
                user_prompt TEXT,
                order_in_post INTEGER NOT NULL DEFAULT 0,
                FOREIGN KEY (post_id) REFERENCES posts(post_id) ON DELETE CASCADE,
                UNIQUE (post_id, order_in_post)
            )
        '''
# L129
SQL_USER_ACTIVITY = '''
            CREATE TABLE IF NOT EXISTS user_activity (
                user_id INTEGER NOT NULL,
                item_type TEXT NOT NULL,
                item_id INTEGER NOT NULL,
                last_viewed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (user_id, item_type, item_id)
            )
        '''
# L153
SQL_SCHEDULE = '''
             CREATE TABLE IF NOT EXISTS schedule (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                start_hour INTEGER NOT NULL, -- 0-23
                end_hour INTEGER NOT NULL,   -- 0-23
                days_active TEXT NOT NULL DEFAULT 'Mon,Tue,Wed,Thu,Fri,Sat,Sun', -- Comma-separated e.g., "Mon,Wed,Fri"
                enabled BOOLEAN NOT NULL DEFAULT TRUE
            )
        '''
# L162
SQL_SETTINGS = '''
            CREATE TABLE IF NOT EXISTS settings (
                setting_key TEXT PRIMARY KEY,
                setting_value TEXT
            )
        '''
# L380
SQL_ALTER_LLM_REQUESTS_TOKEN_BREAKDOWN = "ALTER TABLE llm_requests ADD COLUMN prompt_token_breakdown TEXT"
# L391
SQL_ALTER_LLM_REQUESTS_PARENT = "ALTER TABLE llm_requests ADD COLUMN parent_request_id INTEGER REFERENCES llm_requests(request_id)"
# L401
SQL_PERSONAS = '''
        CREATE TABLE IF NOT EXISTS personas (
            persona_id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            prompt_instructions TEXT NOT NULL,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            created_by_user INTEGER,
            version INTEGER DEFAULT 1,
            is_active BOOLEAN DEFAULT TRUE,
            generation_source TEXT,                 -- New field
            generation_input_details TEXT,          -- New field
            FOREIGN KEY (created_by_user) REFERENCES users(user_id)
        )
    '''
# L415
SQL_IX_PERSONAS_NAME_UNIQUE = "CREATE UNIQUE INDEX IF NOT EXISTS ix_personas_name_unique ON personas (name)"
# L417
SQL_PERSONA_VERSIONS = '''
        CREATE TABLE IF NOT EXISTS persona_versions (
            version_id INTEGER PRIMARY KEY AUTOINCREMENT,
            persona_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            prompt_instructions TEXT NOT NULL,
            updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            updated_by_user INTEGER,
            version INTEGER NOT NULL,
            FOREIGN KEY (persona_id) REFERENCES personas(persona_id),
            FOREIGN KEY (updated_by_user) REFERENCES users(user_id)
        )
    '''
# L430
SQL_SUBFORUM_PERSONAS = '''
        CREATE TABLE IF NOT EXISTS subforum_personas (
            subforum_persona_id INTEGER PRIMARY KEY AUTOINCREMENT,
            subforum_id INTEGER NOT NULL,
            persona_id INTEGER NOT NULL,
            assigned_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            is_default_for_subforum BOOLEAN DEFAULT FALSE,
            FOREIGN KEY (subforum_id) REFERENCES subforums(subforum_id),
            FOREIGN KEY (persona_id) REFERENCES personas(persona_id)
        )
    '''
# L441, L442, L443
SQL_IDX_SUBFORUM_PERSONAS_SUBFORUM = 'CREATE INDEX IF NOT EXISTS idx_subforum_personas_subforum ON subforum_personas(subforum_id)'
SQL_IDX_SUBFORUM_PERSONAS_PERSONA = 'CREATE INDEX IF NOT EXISTS idx_subforum_personas_persona ON subforum_personas(persona_id)'
SQL_IDX_PERSONAS_ACTIVE = 'CREATE INDEX IF NOT EXISTS idx_personas_active ON personas(is_active)'
# L469 (re-issued; no-op because L86 already created the table)
SQL_POST_PERSONA_TAGS_AGAIN = '''
        CREATE TABLE IF NOT EXISTS post_persona_tags (
            tag_id INTEGER PRIMARY KEY AUTOINCREMENT,
            post_id INTEGER,
            persona_id INTEGER,
            tagged_by_user_id INTEGER,
            created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            FOREIGN KEY(post_id) REFERENCES posts(post_id),
            FOREIGN KEY(persona_id) REFERENCES personas(persona_id),
            FOREIGN KEY(tagged_by_user_id) REFERENCES users(user_id)
        )
    '''
# L481, L482
SQL_IDX_POST_PERSONA_TAGS_POST = 'CREATE INDEX IF NOT EXISTS idx_post_persona_tags_post ON post_persona_tags(post_id)'
SQL_IDX_POST_PERSONA_TAGS_PERSONA = 'CREATE INDEX IF NOT EXISTS idx_post_persona_tags_persona ON post_persona_tags(persona_id)'
# L505
SQL_LLM_MODEL_METADATA = """
            CREATE TABLE IF NOT EXISTS llm_model_metadata (
                model_name TEXT PRIMARY KEY,
                context_window INTEGER,
                last_checked DATETIME DEFAULT CURRENT_TIMESTAMP
            );
        """
# L523
SQL_INDEXED_FOLDERS = """
            CREATE TABLE IF NOT EXISTS indexed_folders (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                folder_path TEXT NOT NULL UNIQUE,
                is_recursive BOOLEAN NOT NULL DEFAULT TRUE,
                use_global_filters BOOLEAN NOT NULL DEFAULT TRUE,
                custom_blocklist TEXT, -- JSON array of strings
                custom_allowlist TEXT, -- JSON array of strings
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
            );
        """
# L536
SQL_FILE_INDEX_CACHE = """
            CREATE TABLE IF NOT EXISTS file_index_cache (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                file_path TEXT NOT NULL UNIQUE,
                filename TEXT NOT NULL,
                last_indexed TIMESTAMP DEFAULT CURRENT_TIMESTAMP
            );
        """
# L543
SQL_IDX_FILE_INDEX_CACHE_FILENAME = 'CREATE INDEX IF NOT EXISTS idx_file_index_cache_filename ON file_index_cache(filename)'
# L548
SQL_FILE_FILTER_RULES = """
            CREATE TABLE IF NOT EXISTS file_filter_rules (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                rule_type TEXT NOT NULL, -- 'global_blocklist', 'global_allowlist'
                extension TEXT NOT NULL UNIQUE,
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
            );
        """
# L582
SQL_ALTER_POSTS_TAGGED_FILES = "ALTER TABLE posts ADD COLUMN tagged_files_in_content TEXT"

# L557-L572 (verbatim list)
DEFAULT_BLOCKLIST = [
    '.exe', '.dll', '.so', '.a', '.o', '.lib', '.pyc', '.pyo', '.pyd',
    '.jar', '.class', '.war', '.ear',
    '.com', '.bat', '.sh', '.cmd', '.ps1',
    '.msi', '.dmg', '.pkg',
    '.zip', '.tar', '.gz', '.bz2', '.7z', '.rar', '.xz',
    '.iso', '.img', '.vhd', '.vhdx',
    '.png', '.jpg', '.jpeg', '.gif', '.bmp', '.tiff', '.svg', '.webp',
    '.mp3', '.wav', '.ogg', '.flac', '.aac',
    '.mp4', '.mkv', '.avi', '.mov', '.wmv', '.flv',

    '.pdf', '.doc', '.docx', '.xls', '.xlsx', '.ppt', '.pptx',
    '.odt', '.ods', '.odp',
    '.db', '.sqlite', '.sqlite3', '.db-journal', '.db-wal', '.db-shm',
    '.log', '.bak', '.tmp', '.temp',
    '.DS_Store', 'Thumbs.db', '.git', '.svn', '.hg'
]
# fmt: on

# Every table init_db() creates, in creation order. The store maps only some of them, but all
# of them are FORLLM's: never dropped, renamed or rebuilt.
FORLLM_TABLES = (
    "users",
    "subforums",
    "topics",
    "posts",
    "post_persona_tags",
    "llm_requests",
    "attachments",
    "user_activity",
    "schedule",
    "settings",
    "personas",
    "persona_versions",
    "subforum_personas",
    "llm_model_metadata",
    "indexed_folders",
    "file_index_cache",
    "file_filter_rules",
)
# Every index init_db() creates (for schema comparisons: ours are all prefixed ``ps_``).
FORLLM_INDEXES = (
    "ix_personas_name_unique",
    "idx_subforum_personas_subforum",
    "idx_subforum_personas_persona",
    "idx_personas_active",
    "idx_post_persona_tags_post",
    "idx_post_persona_tags_persona",
    "idx_file_index_cache_filename",
)

_INSERT_SETTING = "INSERT OR IGNORE INTO settings (setting_key, setting_value) VALUES (?, ?)"


def create_forllm_schema(cur: sqlite3.Cursor) -> None:
    """Replay what init_db() does on its first start on an empty file (L32-L176, then the
    always-run tail L346-L603), seed rows included. The caller owns the transaction."""
    cur.execute(SQL_USERS)
    cur.execute(SQL_SUBFORUMS)
    cur.execute(SQL_TOPICS)
    cur.execute(SQL_POSTS)
    cur.execute(SQL_ALTER_POSTS_TAGGED_PERSONAS)
    cur.execute(SQL_POST_PERSONA_TAGS)
    cur.execute(SQL_LLM_REQUESTS)
    cur.execute(SQL_ATTACHMENTS)
    cur.execute(SQL_USER_ACTIVITY)
    cur.execute(SQL_SCHEDULE)
    cur.execute(SQL_SETTINGS)
    # L169-L174
    cur.execute(
        "INSERT OR IGNORE INTO users (user_id, username) VALUES (?, ?)",
        (CURRENT_USER_ID, CURRENT_USERNAME),
    )
    cur.execute(_INSERT_SETTING, ("selectedModel", DEFAULT_MODEL))
    cur.execute(_INSERT_SETTING, ("llmLinkSecurity", "true"))
    cur.execute(_INSERT_SETTING, ("default_llm_context_window", "4096"))
    cur.execute(SQL_ALTER_LLM_REQUESTS_TOKEN_BREAKDOWN)  # L380
    cur.execute(SQL_ALTER_LLM_REQUESTS_PARENT)  # L391
    cur.execute(SQL_PERSONAS)
    cur.execute(SQL_IX_PERSONAS_NAME_UNIQUE)
    cur.execute(SQL_PERSONA_VERSIONS)
    cur.execute(SQL_SUBFORUM_PERSONAS)
    cur.execute(SQL_IDX_SUBFORUM_PERSONAS_SUBFORUM)
    cur.execute(SQL_IDX_SUBFORUM_PERSONAS_PERSONA)
    cur.execute(SQL_IDX_PERSONAS_ACTIVE)
    # L449, L456, L462
    cur.execute(_INSERT_SETTING, ("globalDefaultPersonaId", "1"))
    cur.execute(
        "INSERT OR IGNORE INTO personas (persona_id, name, prompt_instructions, created_by_user, "
        "is_active) VALUES (?, ?, ?, ?, ?)",
        (1, "fallback", "You are a helpful assistant.", CURRENT_USER_ID, True),
    )
    cur.execute(
        "INSERT OR IGNORE INTO persona_versions (persona_id, version, name, prompt_instructions, "
        "updated_by_user) VALUES (?, ?, ?, ?, ?)",
        (1, 1, "fallback", "You are a helpful assistant.", CURRENT_USER_ID),
    )
    cur.execute(SQL_POST_PERSONA_TAGS_AGAIN)  # L469: a no-op, kept so the order stays upstream's
    cur.execute(SQL_IDX_POST_PERSONA_TAGS_POST)
    cur.execute(SQL_IDX_POST_PERSONA_TAGS_PERSONA)
    cur.execute("DELETE FROM settings WHERE setting_key = ?", ("darkMode",))  # L489
    cur.execute(SQL_LLM_MODEL_METADATA)
    cur.execute(SQL_INDEXED_FOLDERS)
    cur.execute(SQL_FILE_INDEX_CACHE)
    cur.execute(SQL_IDX_FILE_INDEX_CACHE_FILENAME)
    cur.execute(SQL_FILE_FILTER_RULES)
    for ext in DEFAULT_BLOCKLIST:  # L574-L575
        cur.execute(
            "INSERT OR IGNORE INTO file_filter_rules (rule_type, extension) VALUES (?, ?)",
            ("global_blocklist", ext),
        )
    cur.execute(SQL_ALTER_POSTS_TAGGED_FILES)  # L582
